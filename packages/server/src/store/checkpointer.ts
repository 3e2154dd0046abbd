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
 */
import { statSync } from "node:fs";
import { Worker } from "node:worker_threads";

const WORKER = new URL("./checkpoint-worker.js", import.meta.url);
const INTERVAL_MS = 250;
/** 16 MiB of 4 KiB pages: few restarts of the WAL. */
const RESTART_FRAMES = 4096;
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

export interface Checkpointer {
  /** A commit went into the WAL: the thread runs (again) until it has copied it and the store is quiet. */
  wrote(): void;
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
  const start = (): Worker => {
    const worker = new Worker(WORKER, { workerData: { path, intervalMs: INTERVAL_MS, restartFrames: RESTART_FRAMES } });
    worker.on("message", (message: { copied?: true; error?: string }) => {
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
