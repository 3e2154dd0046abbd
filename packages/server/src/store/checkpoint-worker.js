/**
 * The WAL checkpointer's thread (see checkpointer.ts): its own connection, a
 * passive checkpoint every `intervalMs`. A passive checkpoint never takes the
 * writer's lock, so under a steady stream of commits it copies frames but the
 * WAL never gets the moment with nothing left to copy that lets the next
 * writer start it over (SQLite's "checkpoint starvation"). Once the WAL holds
 * more than `restartFrames`, it asks the server for that moment ({ full:
 * true }): the server holds its next write transactions back and, once none
 * is open, says "checkpoint"; a passive checkpoint then copies everything,
 * it answers { caughtUp: true } and the server's next write starts the WAL
 * over (SQLite does so by itself when the WAL is all copied). A RESTART
 * checkpoint would take the writer's lock here instead, for the copy and the
 * database file's sync (20-25 ms), and the server's thread would sleep in
 * SQLite's busy handler for all of it (up to 34 ms), no request moving. A
 * checkpoint that finds every frame copied says so ({ copied: true }): the
 * server stops this thread once the store is quiet.
 *
 * JavaScript, not TypeScript: a worker that runs a .ts file loads Node's type
 * stripper into its isolate, ~18 MiB for these few lines.
 *
 * Told to stop, it ends itself after a memory-reducing collection of its
 * own heap, which frees the pages V8 keeps pooled for reuse. An isolate that
 * ends with pooled pages hands them to the server's isolate, which keeps them
 * resident for 8 s more (V8's PagePool::ReleaseOnTearDown): 4-5 MiB of the
 * server's RSS after every stop (the bench's idle RSS, taken 2 s after its
 * set-up's last write: 103-107 MiB instead of 108-110). The collection takes
 * a few ms, on this thread.
 */
import { DatabaseSync } from "node:sqlite";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort, workerData } from "node:worker_threads";

const { path, intervalMs, restartFrames } = workerData;
const database = new DatabaseSync(path);
database.exec("PRAGMA busy_timeout = 0");
const passive = database.prepare("PRAGMA wal_checkpoint(PASSIVE)");
/** Asked the server for a moment without writes, and not yet given it. */
let asked = false;
const ticks = setInterval(() => {
  try {
    const { busy, log, checkpointed } = passive.get();
    if (log > restartFrames && !asked) {
      asked = true;
      parentPort?.postMessage({ full: true });
    }
    if (busy === 0 && checkpointed === log) parentPort?.postMessage({ copied: true });
  } catch (error) {
    parentPort?.postMessage({ error: error.message });
  }
}, intervalMs);
parentPort?.on("message", (message) => {
  if (message === "checkpoint") {
    try {
      passive.get();
    } catch (error) {
      parentPort?.postMessage({ error: error.message });
    }
    asked = false;
    parentPort?.postMessage({ caughtUp: true });
    return;
  }
  if (message !== "stop") return;
  clearInterval(ticks);
  database.close();
  // gc() for this one call: the flag is read when a context is made (core/idle-memory.ts does the same).
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc");
  setFlagsFromString("--no-expose-gc");
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
  process.exit(0);
});
