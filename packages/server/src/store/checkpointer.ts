/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs
 * inside whichever COMMIT takes the WAL past 1000 pages: it copies those
 * pages into the database file and syncs both, tens of milliseconds during
 * which node:sqlite holds the JavaScript thread and no request moves. So the
 * server's connection turns it off (wal_autocheckpoint = 0) and a worker
 * thread with a connection of its own checkpoints every few hundred
 * milliseconds instead; a checkpoint never blocks the writer in WAL mode.
 */
import { Worker } from "node:worker_threads";

const INTERVAL_MS = 250;
/** 16 MiB of 4 KiB pages: few restarts, each with little left to copy. */
const RESTART_FRAMES = 4096;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(path: string, onError: (error: Error) => void): Checkpointer {
  const worker = new Worker(new URL("./checkpoint-worker.ts", import.meta.url), { workerData: { path, intervalMs: INTERVAL_MS, restartFrames: RESTART_FRAMES } });
  worker.on("message", (message: { error: string }) => onError(new Error(`WAL checkpoint failed: ${message.error}`)));
  worker.on("error", onError);
  // A process that is done must not stay alive for its checkpointer.
  worker.unref();
  return {
    async stop() {
      // A checkpoint under way finishes first: termination waits for the thread's JavaScript, not inside SQLite.
      await worker.terminate();
    },
  };
}
