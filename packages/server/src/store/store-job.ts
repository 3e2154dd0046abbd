/**
 * A background job that runs every so often on one node at a time: each pass
 * takes the store's job lock (store/dialect.ts), and a node that does not get
 * it skips that pass instead of waiting, so several nodes never double the
 * work (or the alerts it raises).
 */
import { JOB_LOCKS, type JobLock } from "./dialect.ts";
import type { Store } from "./store.ts";

/** How often a job runs unless told otherwise: the rotation and lifecycle jobs work in days, so a minute is plenty. */
export const STORE_JOB_EVERY_MS = 60_000;

export abstract class StoreJob<Run> {
  protected readonly store: Store;
  #job: keyof typeof JOB_LOCKS;
  protected readonly log: (message: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<Run | undefined> | undefined;

  protected constructor(store: Store, job: keyof typeof JOB_LOCKS, log: (message: string) => void) {
    this.store = store;
    this.#job = job;
    this.log = log;
  }

  /** Runs every `everyMs` until stop(); a run still going when the next is due is not doubled. */
  start(everyMs = STORE_JOB_EVERY_MS): void {
    this.#timer ??= setInterval(() => void this.run().catch((error: Error) => this.log(`${this.#job} job failed: ${error.message}`)), everyMs).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }

  /** One pass; undefined when another node is running it. */
  run(): Promise<Run | undefined> {
    const lock: JobLock = JOB_LOCKS[this.#job];
    this.#running ??= this.store.dialect.tryJobLock(this.store.db, lock, () => this.pass()).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  protected abstract pass(): Promise<Run>;
}
