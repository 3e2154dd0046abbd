/**
 * The rotation job: on one node at a time (the store's job lock), it sends
 * each reminder once per (secret, version, kind) — recorded in the store, so
 * no node sends it again — and writes a new generated value for self-rotating
 * secrets that reached their due date. Time is the injected clock's, so tests
 * drive it instead of waiting.
 */
import type { SecretType } from "@coffer/protocol";
import type { Clock } from "../core/clock.ts";
import type { SecretService } from "../secret/secret.service.ts";
import { JOB_LOCKS } from "../store/dialect.ts";
import type { Store } from "../store/store.ts";
import type { RotationEventPublisher, RotationEventType } from "./rotation.events.ts";
import { listRotationCandidates, recordReminder } from "./rotation.repository.ts";
import { planOf, SELF_ROTATING_TYPES, statusAt } from "./rotation.rules.ts";

export const ROTATION_JOB_EVERY_MS = 60_000;
const BATCH = 200;

export interface RotationRun {
  reminded: number;
  rotated: number;
}

export class RotationJob {
  #store: Store;
  #secrets: SecretService;
  #events: RotationEventPublisher;
  #clock: Clock;
  #log: (message: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<RotationRun | undefined> | undefined;

  constructor(store: Store, secrets: SecretService, events: RotationEventPublisher, clock: Clock, log: (message: string) => void) {
    this.#store = store;
    this.#secrets = secrets;
    this.#events = events;
    this.#clock = clock;
    this.#log = log;
  }

  /** Runs every `everyMs` until stop(); a run still going when the next is due is not doubled. */
  start(everyMs = ROTATION_JOB_EVERY_MS): void {
    this.#timer ??= setInterval(() => void this.run().catch((error: Error) => this.#log(`rotation job failed: ${error.message}`)), everyMs).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }

  /** One pass; undefined when another node is running it. */
  run(): Promise<RotationRun | undefined> {
    this.#running ??= this.#store.dialect.tryJobLock(this.#store.db, JOB_LOCKS.rotation, () => this.#pass()).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(): Promise<RotationRun> {
    const now = this.#clock();
    const done: RotationRun = { reminded: 0, rotated: 0 };
    let after = "";
    for (;;) {
      const batch = await listRotationCandidates(this.#store.db, now, after, BATCH);
      for (const secret of batch) {
        after = secret.id;
        const plan = planOf(secret.intervalDays, secret.versionCreatedAt);
        if (!plan) continue;
        const status = statusAt(plan, now);
        const event = { workspaceId: secret.workspaceId, secretId: secret.id, secretName: secret.name };
        try {
          if (status === "overdue" && secret.autoRotate === 1 && SELF_ROTATING_TYPES.includes(secret.type as SecretType)) {
            const version = await this.#secrets.rotateGenerated(secret.workspaceId, secret.id, secret.currentVersion);
            if (version !== undefined) {
              done.rotated++;
              this.#events.publish({ type: "secret.rotated", ...event, version, dueAt: new Date(planOf(plan.intervalDays, now)!.dueAt).toISOString() });
            }
            continue;
          }
          const kind: RotationEventType = status === "overdue" ? "rotation.overdue" : "rotation.due";
          if (Number(kind === "rotation.due" ? secret.dueSent : secret.overdueSent) > 0) continue;
          if (await recordReminder(this.#store.db, { secretId: secret.id, version: secret.currentVersion, kind, sentAt: now })) {
            done.reminded++;
            this.#events.publish({ type: kind, ...event, version: secret.currentVersion, dueAt: new Date(plan.dueAt).toISOString() });
          }
        } catch (error) {
          // One secret that cannot be handled must not hold up the others; the next pass tries it again.
          this.#log(`rotation of secret ${secret.id} failed: ${(error as Error).message}`);
        }
      }
      if (batch.length < BATCH) return done;
    }
  }
}
