/**
 * A process whose only work is a stream of write transactions on a new
 * SQLite file in WAL mode, through the checkpointer's pauses, as a seed or a
 * restore is (checkpointer.test.ts). Its connection does not wait for locks
 * at all: a checkpoint that took the writer's lock fails a begin. Prints
 * what it saw, as JSON: the pauses, the times the WAL was started over (its
 * header's checkpoint sequence number moved) and its largest size.
 */
import { openSync, readSync, statSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { startCheckpointer } from "../../src/store/checkpointer.ts";

const path = process.argv[2]!;
const checkpointer = startCheckpointer(path, (error) => {
  throw error;
});
const database = new DatabaseSync(path);
database.exec("PRAGMA journal_mode = WAL");
database.exec("PRAGMA wal_autocheckpoint = 0");
database.exec("PRAGMA busy_timeout = 0");
database.exec("create table t (value blob)");
const insert = database.prepare("insert into t values (?)");
const value = Buffer.alloc(16 * 1024, 7);
let pauses = 0;
let largestWal = 0;
let restarts = 0;
let wal: number | undefined;
let sequence: number | undefined;
/** The WAL header's checkpoint sequence number, which SQLite moves each time it starts the WAL over. */
const walSequence = (): number => {
  wal ??= openSync(`${path}-wal`, "r");
  const header = Buffer.alloc(16);
  readSync(wal, header, 0, 16, 0);
  return header.readUInt32BE(12);
};
// 192 MiB in transactions of 256 KiB, twelve times the WAL's size at which the checkpointer asks for a pause: a fast
// machine writes tens of MiB between two of its checks, so fewer could end before the first pause.
for (let i = 0; i < 768; i++) {
  const paused = checkpointer.beforeWrite();
  if (paused !== undefined) {
    pauses++;
    await paused;
  }
  database.exec("begin immediate");
  for (let row = 0; row < 16; row++) insert.run(value);
  database.exec("commit");
  checkpointer.afterWrite();
  checkpointer.wrote();
  largestWal = Math.max(largestWal, statSync(`${path}-wal`).size);
  const now = walSequence();
  if (sequence !== undefined && now !== sequence) restarts++;
  sequence = now;
  // The thread's messages arrive between writes.
  await new Promise((resolve) => setImmediate(resolve));
}
await checkpointer.stop();
database.close();
console.log(JSON.stringify({ pauses, restarts, largestWal }));
