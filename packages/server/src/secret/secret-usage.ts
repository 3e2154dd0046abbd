/**
 * When each secret was last read or used, recorded without a write per read:
 * the gate (secret-rows.ts `release`) only notes the id and the second in
 * memory, and every few seconds one UPDATE per second and few hundred ids
 * writes them. So `lastUsedAt` reaches the store up to the flush interval
 * late, to the second, and a node that dies loses its last few seconds of
 * notes; the unused-secrets report counts in days, which neither changes.
 */
import type { Clock } from "../core/clock.ts";
import type { Store } from "../store/store.ts";
import { markUsed } from "./secret.repository.ts";

export const USAGE_FLUSH_MS = 5_000;
const IDS_PER_UPDATE = 500;

export class SecretUsage {
  #store: Store;
  #clock: Clock;
  #log: (message: string) => void;
  /** Secret id → the second of its last use. */
  #pending = new Map<string, number>();
  #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: Store, clock: Clock, log: (message: string) => void) {
    this.#store = store;
    this.#clock = clock;
    this.#log = log;
    this.#timer = setInterval(() => void this.flush(), USAGE_FLUSH_MS).unref();
  }

  /** On the read path: a map entry, nothing else. */
  note(secretId: string): void {
    this.#pending.set(secretId, Math.floor(this.#clock() / 1000) * 1000);
  }

  /** Writes what was noted so far (the job calls it before it looks for unused secrets). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const bySecond = new Map<number, string[]>();
    for (const [id, second] of this.#pending) {
      const ids = bySecond.get(second);
      if (ids) ids.push(id);
      else bySecond.set(second, [id]);
    }
    this.#pending.clear();
    for (const [second, ids] of bySecond) {
      for (let i = 0; i < ids.length; i += IDS_PER_UPDATE) {
        const part = ids.slice(i, i + IDS_PER_UPDATE);
        try {
          await markUsed(this.#store.db, part, second);
        } catch (error) {
          // Noted again (unless used since), for the next flush: last-used times are worth a retry, not a failed read.
          for (const id of part) if (!this.#pending.has(id)) this.#pending.set(id, second);
          this.#log(`recording when secrets were last used failed: ${(error as Error).message}`);
        }
      }
    }
  }
}
