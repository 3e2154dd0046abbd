/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs
 * inside whichever COMMIT takes the WAL past 1000 pages: it copies those
 * pages into the database file and syncs both, tens of milliseconds during
 * which node:sqlite holds the JavaScript thread and no request moves. So the
 * server's connection turns it off (wal_autocheckpoint = 0) and a worker
 * thread with a connection of its own checkpoints every few hundred
 * milliseconds instead (checkpoint-worker.js).
 *
 * The thread costs ~20 MiB (an isolate, Node's bootstrap, its allocations),
 * a fifth of an idle server, so it runs only while the store is written to:
 * a commit starts it, and once a checkpoint has copied the whole WAL and no
 * commit came for QUIET_MS it is stopped, until the next commit.
 *
 * Under a steady stream of commits the WAL would grow without end (a
 * checkpoint that runs beside commits never finds it all copied, which is
 * what lets a writer start it over), so once it is large the thread asks for
 * a pause: the next write transactions wait, without holding the event loop,
 * while one checkpoint copies the rest (checkpoint-worker.js says how, and
 * what it replaced).
 */
import { statSync } from "node:fs";
import { Worker } from "node:worker_threads";

const WORKER = new URL("./checkpoint-worker.js", import.meta.url);
const INTERVAL_MS = 250;
/** 16 MiB of 4 KiB pages: few restarts of the WAL. */
const RESTART_FRAMES = 4096;
/** A WAL frame: a page and its 24-byte header. */
const FRAME_BYTES = 4096 + 24;
/**
 * The size SQLite cuts the WAL file back to when the WAL starts over
 * (journal_size_limit, sqlite.ts), after a burst (an import, a migration,
 * re-encryption) grew it far past the restart point; twice that point, so
 * the WAL of a steady load is never cut and grown again.
 */
export const WAL_SIZE_LIMIT_BYTES = 2 * RESTART_FRAMES * FRAME_BYTES;
/** A checkpointer that died is started again after this long. */
const RESTART_AFTER_MS = 1000;
/**
 * How long the store must see no commit before the thread stops. Starting it
 * costs ~20 ms of CPU on a thread of its own: a store written to every
 * couple of seconds restarts it that often, 1% of a core.
 */
const QUIET_MS = 1000;
/** How long a thread told to stop may take to end itself (it takes a few ms). */
const STOP_WAIT_MS = 5000;
/** The longest a pause for the WAL's restart holds writes back (a checkpoint takes 5-25 ms). */
const PAUSE_MAX_MS = 250;

export interface Checkpointer {
  /** A commit went into the WAL: the thread runs (again) until it has copied it and the store is quiet. */
  wrote(): void;
  /** Awaited (when not undefined) before a write transaction begins: the end of a pause for the WAL's restart. */
  beforeWrite(): Promise<void> | undefined;
  /** A write transaction began (beforeWrite) and has now ended, committed or not. */
  afterWrite(): void;
  /** Whether the thread runs now. */
  readonly running: boolean;
  stop(): Promise<void>;
}

export function startCheckpointer(path: string, onError: (error: Error) => void): Checkpointer {
  let stopping = false;
  let lastError = "";
  let lastCommit = 0;
  let failedAt = -Infinity;
  let current: Worker | undefined;
  // When the WAL was last written (0: it is empty or not there), as the file says: the thread stops having copied it all.
  const walWritten = () => {
    const wal = statSync(`${path}-wal`, { throwIfNoEntry: false });
    return wal && wal.size > 0 ? wal.mtimeMs : 0;
  };
  let copied = walWritten();
  const pause = new WritePause();
  const start = (): Worker => {
    const worker = new Worker(WORKER, { workerData: { path, intervalMs: INTERVAL_MS, restartFrames: RESTART_FRAMES } });
    worker.on("message", (message: { copied?: true; full?: true; caughtUp?: true; error?: string }) => {
      if (message.full) {
        pause.hold(() => worker.postMessage("checkpoint"), PAUSE_MAX_MS);
        return;
      }
      if (message.caughtUp) {
        pause.release();
        return;
      }
      if (message.copied) {
        // Every commit so far is in the database file; one after this checkpoint would be younger than QUIET_MS.
        if (current === worker && performance.now() - lastCommit >= QUIET_MS) {
          current = undefined;
          copied = walWritten();
          // The thread ends itself, its heap collected first (checkpoint-worker.js says why); one that does not is ended.
          worker.postMessage("stop");
          setTimeout(() => void worker.terminate(), STOP_WAIT_MS).unref();
        }
        return;
      }
      // A failing checkpoint is retried every tick: say so once, not four times a second.
      if (message.error !== lastError) onError(new Error(`WAL checkpoint failed: ${message.error}`));
      lastError = message.error ?? "";
    });
    worker.on("error", onError);
    // Without it nothing copies the WAL into the database and the WAL grows without end.
    worker.on("exit", (code) => {
      pause.release();
      if (stopping || current !== worker) return; // stopped on purpose
      current = undefined;
      failedAt = performance.now();
      onError(new Error(`the WAL checkpointer stopped (exit code ${code}); starting it again`));
      setTimeout(() => {
        if (!stopping) current ??= start();
      }, RESTART_AFTER_MS).unref();
    });
    // A process that is done must not stay alive for its checkpointer.
    worker.unref();
    return worker;
  };
  return {
    wrote() {
      lastCommit = performance.now();
      if (stopping || current !== undefined || lastCommit - failedAt < RESTART_AFTER_MS) return;
      // The driver takes some reads for commits (a false alarm costs it one sync); they leave the WAL as it was.
      if (walWritten() !== copied) current = start();
    },
    beforeWrite: () => pause.beforeWrite(),
    afterWrite: () => pause.afterWrite(),
    get running() {
      return current !== undefined;
    },
    async stop() {
      stopping = true;
      // A checkpoint under way finishes first: termination waits for the thread's JavaScript, not inside SQLite.
      await current?.terminate();
    },
  };
}

/**
 * Holds write transactions back while the checkpointer copies the WAL's
 * last frames: one that is open goes on to its end, the next ones wait
 * (beforeWrite) until the checkpoint is done, or at most `maxMs`.
 */
class WritePause {
  #writing = false;
  #held: { promise: Promise<void>; resume: () => void; timer: NodeJS.Timeout } | null = null;
  /** Runs once the write transaction open when the pause began (if any) has ended. */
  #whenIdle: (() => void) | null = null;

  beforeWrite(): Promise<void> | undefined {
    if (this.#held !== null) return this.#held.promise.then(() => this.beforeWrite());
    this.#writing = true;
    return undefined;
  }

  afterWrite(): void {
    this.#writing = false;
    const whenIdle = this.#whenIdle;
    this.#whenIdle = null;
    whenIdle?.();
  }

  /** Holds writes back and calls `whenIdle` once none is open; released after `maxMs` whatever happens. */
  hold(whenIdle: () => void, maxMs: number): void {
    if (this.#held !== null) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    // Not unref'd: a process whose only work is writes waiting here (a seed, a restore) would otherwise end mid-write.
    this.#held = { promise, resume: resolve, timer: setTimeout(() => this.release(), maxMs) };
    if (this.#writing) this.#whenIdle = whenIdle;
    else whenIdle();
  }

  release(): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    // Released before the write it waited for ended (maxMs): the checkpointer is told all the same, or it would
    // wait for that answer, and ask for no other pause, for as long as it runs.
    const whenIdle = this.#whenIdle;
    this.#whenIdle = null;
    clearTimeout(held.timer);
    held.resume();
    whenIdle?.();
  }
}
