/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs
 * inside whichever COMMIT takes the WAL past 1000 pages: it copies those
 * pages into the database file and syncs both, tens of milliseconds during
 * which node:sqlite holds the JavaScript thread and no request moves. So the
 * server's connection turns it off (wal_autocheckpoint = 0) and a worker
 * thread with a connection of its own checkpoints every few hundred
 * milliseconds instead (checkpoint-worker.ts).
 */
import { Worker } from "node:worker_threads";

const INTERVAL_MS = 250;
/** 16 MiB of 4 KiB pages: few restarts of the WAL. */
const RESTART_FRAMES = 4096;
/** A checkpointer that died is started again after this long. */
const RESTART_AFTER_MS = 1000;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(path: string, onError: (error: Error) => void): Checkpointer {
  let stopping = false;
  let lastError = "";
  const start = (): Worker => {
    const worker = new Worker(new URL("./checkpoint-worker.ts", import.meta.url), {
      workerData: { path, intervalMs: INTERVAL_MS, restartFrames: RESTART_FRAMES },
    });
    // A failing checkpoint is retried every tick: say so once, not four times a second.
    worker.on("message", (message: { error: string }) => {
      if (message.error !== lastError) onError(new Error(`WAL checkpoint failed: ${message.error}`));
      lastError = message.error;
    });
    worker.on("error", onError);
    // Without it nothing copies the WAL into the database and the WAL grows without end.
    worker.on("exit", (code) => {
      if (stopping) return;
      onError(new Error(`the WAL checkpointer stopped (exit code ${code}); starting it again`));
      setTimeout(() => {
        if (!stopping) current = start();
      }, RESTART_AFTER_MS).unref();
    });
    // A process that is done must not stay alive for its checkpointer.
    worker.unref();
    return worker;
  };
  let current = start();
  return {
    async stop() {
      stopping = true;
      // A checkpoint under way finishes first: termination waits for the thread's JavaScript, not inside SQLite.
      await current.terminate();
    },
  };
}
