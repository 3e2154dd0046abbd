/**
 * The WAL checkpointer (store/checkpointer.ts) against a real SQLite file:
 * its thread runs only while the store is written to, copies every commit
 * into the database file before it stops, and a commit after that starts it
 * again; and the store's WAL is cut back to its size limit after a burst.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { startCheckpointer, WAL_SIZE_LIMIT_BYTES, type Checkpointer } from "../src/store/checkpointer.ts";
import { openStore, SQLITE_FILE } from "../src/store/store.ts";
import { tempDir } from "./support/stores.ts";

const execFileAsync = promisify(execFile);
/** support/wal-writer.ts says what it does. */
const WAL_WRITER = fileURLToPath(new URL("./support/wal-writer.ts", import.meta.url));

async function stopsWithin(checkpointer: Checkpointer, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (checkpointer.running && performance.now() < until) await sleep(50);
  assert.equal(checkpointer.running, false, `the checkpointer still runs after ${ms} ms of quiet`);
}

/** A checkpointer and the server's connection to a new SQLite file, in WAL mode and its own checkpoints off, as the store opens it. */
function walStore(t: TestContext, onError: (error: Error) => void = (error) => assert.fail(error)) {
  const path = join(tempDir(), "coffer.db");
  const checkpointer = startCheckpointer(path, onError);
  t.after(() => checkpointer.stop());
  const database = new DatabaseSync(path);
  t.after(() => database.close());
  database.exec("PRAGMA journal_mode = WAL");
  database.exec("PRAGMA wal_autocheckpoint = 0");
  return { path, checkpointer, database };
}

test("the checkpointer runs while the store is written to, copies the WAL, stops when quiet and starts again on a commit", async (t) => {
  const errors: Error[] = [];
  const { path, checkpointer, database } = walStore(t, (error) => errors.push(error));
  assert.equal(checkpointer.running, false, "no thread before anything is written");

  // A use of the connection that wrote nothing (the driver counts some reads as commits) starts nothing.
  database.prepare("select 1").get();
  checkpointer.wrote();
  assert.equal(checkpointer.running, false);

  database.exec("create table t (value text)");
  database.prepare("insert into t values (?)").run("first-marker");
  checkpointer.wrote();
  assert.equal(checkpointer.running, true, "a commit starts the thread");
  await stopsWithin(checkpointer, 5_000);
  assert.ok(readFileSync(path).includes("first-marker"), "the commit is in the database file, not only in the WAL");

  database.prepare("insert into t values (?)").run("second-marker");
  checkpointer.wrote();
  assert.equal(checkpointer.running, true, "the next commit starts it again");
  await stopsWithin(checkpointer, 5_000);
  assert.ok(readFileSync(path).includes("second-marker"));
  assert.deepEqual(errors, []);
});

test("the checkpointer keeps running while commits keep coming", async (t) => {
  const { checkpointer, database } = walStore(t);
  database.exec("create table t (value integer)");
  const insert = database.prepare("insert into t values (?)");
  for (let i = 0; i < 30; i++) {
    insert.run(i);
    checkpointer.wrote();
    await sleep(100);
    assert.equal(checkpointer.running, true, `stopped ${i * 100} ms into a stream of commits`);
  }
});

test("under a steady stream of commits the WAL is started over, the checkpointer never takes the writer's lock, and a process with nothing else to do finishes its writes", async () => {
  const path = join(tempDir(), "coffer.db");
  const { stdout } = await execFileAsync(process.execPath, [WAL_WRITER, path]);
  const { pauses, restarts, largestWal } = JSON.parse(stdout) as { pauses: number; restarts: number; largestWal: number };
  assert.ok(pauses > 0, "the checkpointer asked for a pause");
  // How far the WAL grows between two restarts depends on how fast this machine writes and copies (on a busy
  // one a pause can run out before its checkpoint is done); that it is started over does not.
  assert.ok(restarts > 0, `the WAL was never started over (it grew to ${largestWal} bytes)`);
});

test("a pause that ran out while a long write held the WAL does not keep the checkpointer from asking again", async (t) => {
  const { path, checkpointer, database } = walStore(t);
  database.exec("create table t (value blob)");
  const insert = database.prepare("insert into t values (?)");
  const value = Buffer.alloc(16 * 1024, 7);
  const write = () => {
    database.exec("begin immediate");
    for (let row = 0; row < 16; row++) insert.run(value);
    database.exec("commit");
    checkpointer.wrote();
  };
  // One write the pause waits for, open past the pause's longest (its 20 MiB written meanwhile).
  assert.equal(checkpointer.beforeWrite(), undefined);
  for (let i = 0; i < 80; i++) write();
  await sleep(1_000);
  checkpointer.afterWrite();
  let pauses = 0;
  for (let i = 0; i < 200 && pauses === 0; i++) {
    const paused = checkpointer.beforeWrite();
    if (paused !== undefined) {
      pauses++;
      await paused;
    }
    write();
    checkpointer.afterWrite();
    await sleep(5);
  }
  assert.ok(pauses > 0, `no pause asked for after the first ran out; the WAL is ${statSync(`${path}-wal`).size} bytes`);
});

test("a burst that grew the store's WAL past its size limit leaves it cut back to the limit once the WAL starts over", async (t) => {
  const dataDir = tempDir();
  const store = await openStore({ dataDir });
  t.after(() => store.close());
  const wal = join(dataDir, `${SQLITE_FILE}-wal`);
  const walSize = () => statSync(wal).size;
  await sql`create table burst (value blob)`.execute(store.db);
  // One transaction, as an import or a re-encryption makes: the WAL cannot start over in the middle of it.
  const megabytes = Math.ceil((1.5 * WAL_SIZE_LIMIT_BYTES) / (1 << 20));
  await store.db.transaction().execute(async (trx) => {
    for (let i = 0; i < megabytes; i++) await sql`insert into burst values (${randomBytes(1 << 20)})`.execute(trx);
  });
  assert.ok(walSize() > WAL_SIZE_LIMIT_BYTES, `the burst grew the WAL to ${walSize()} bytes, past the limit`);
  // The checkpointer copies the burst into the database file; a write after that starts the WAL over.
  for (let i = 0; i < 100 && walSize() > WAL_SIZE_LIMIT_BYTES; i++) {
    await sleep(100);
    await sql`insert into burst values (${Buffer.from("small")})`.execute(store.db);
  }
  assert.ok(walSize() <= WAL_SIZE_LIMIT_BYTES, `the WAL is still ${walSize()} bytes, over its limit of ${WAL_SIZE_LIMIT_BYTES}`);
});
