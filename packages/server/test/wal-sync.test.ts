/**
 * Which SQLite commits wait for a sync of the WAL, and how syncs are shared,
 * delayed and failed (store/wal-sync.ts), against a counting stand-in for the
 * WAL file; and against a real SQLite file, that the driver tells each kind
 * of statement apart as Kysely sends it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BEGIN, CommitTracker, UNSYNCED_COMMIT_DELAY_MS, WalSync, type SyncableFile } from "../src/store/wal-sync.ts";
import { openStore } from "../src/store/store.ts";
import { countDatasyncs } from "./support/fdatasync-count.ts";
import { tempDir } from "./support/stores.ts";

/** A WAL whose syncs are counted and finish when the test says (or fail). */
function fakeWal() {
  const pending: { resolve(): void; reject(error: Error): void }[] = [];
  let syncs = 0;
  const file: SyncableFile = {
    datasync: () =>
      new Promise<void>((resolve, reject) => {
        syncs++;
        pending.push({ resolve, reject });
      }),
    close: async () => {},
  };
  return {
    open: async () => file,
    get syncs() {
      return syncs;
    },
    /** Lets the oldest sync under way finish (or fail). */
    async finish(error?: Error) {
      await sleep(0);
      const next = pending.shift();
      assert.ok(next, "a sync is under way");
      if (error) next.reject(error);
      else next.resolve();
      await sleep(0);
    },
  };
}

test("commits, and writes outside a transaction, are synced; reads, rollbacks and a failed BEGIN are not", () => {
  let open = false;
  const tracker = new CommitTracker(() => open);
  const run = (statement: string) => {
    tracker.saw(statement);
    if (statement === BEGIN) open = true;
    if (statement === "commit" || statement === "rollback") open = false;
  };
  run("select * from secrets");
  assert.equal(tracker.take(), "none");
  run('insert into "tokens" values (?)');
  assert.equal(tracker.take(), "synced");
  run(BEGIN);
  run('update "secrets" set "name" = ?');
  run("rollback");
  assert.equal(tracker.take(), "none");
  run(BEGIN);
  run('insert into "audit_segments" values (?)');
  run("commit");
  assert.equal(tracker.take(), "synced");
  run(BEGIN);
  tracker.commitUnsynced();
  run('insert into "audit_segments" values (?)');
  run("commit");
  assert.equal(tracker.take(), "unsynced");
  // A BEGIN that failed (busy) leaves no transaction open: the writes after it commit one by one and are synced.
  tracker.saw(BEGIN);
  run('delete from "tokens" where "id" = ?');
  assert.equal(tracker.take(), "synced");
  assert.throws(() => tracker.commitUnsynced(), /transaction under way/);
});

test("commits during a sync share the next one; a failed sync fails every later one", async () => {
  const wal = fakeWal();
  const errors: Error[] = [];
  const sync = new WalSync(wal.open, (error) => errors.push(error));
  const first = sync.sync();
  const [second, third] = [sync.sync(), sync.sync()];
  await wal.finish();
  await first;
  assert.equal(wal.syncs, 2, "one sync under way, one after it for both commits that came meanwhile");
  await wal.finish();
  await Promise.all([second, third]);
  assert.equal(wal.syncs, 2);

  const failing = sync.sync();
  await wal.finish(new Error("EIO"));
  await assert.rejects(failing, /syncing the SQLite WAL failed \(EIO\).*takes no more writes/);
  await assert.rejects(sync.sync(), /takes no more writes/);
  await assert.rejects(sync.syncSoon(), /takes no more writes/);
  assert.equal(wal.syncs, 3, "no sync is tried after a failed one");
  assert.equal(errors.length, 1, "the failure is reported once");
});

test("an unsynced commit is synced within the delay, or at close", async () => {
  const wal = fakeWal();
  const sync = new WalSync(wal.open, () => {});
  await sync.syncSoon();
  await sync.syncSoon();
  assert.equal(wal.syncs, 0, "not at once");
  await sleep(UNSYNCED_COMMIT_DELAY_MS + 50);
  assert.equal(wal.syncs, 1, "once for both, within the delay");
  await wal.finish();
  await sync.syncSoon();
  const closed = sync.close();
  await wal.finish();
  await closed;
  assert.equal(wal.syncs, 2, "close syncs what is left");
});

test("through the driver, a real SQLite store syncs the WAL for commits and writes, later for an unsynced commit, never for reads", async (t) => {
  const dir = tempDir();
  const syncs = await countDatasyncs(t);
  const store = await openStore({ dataDir: dir });
  t.after(() => store.close());
  const syncsFor = async (fn: () => Promise<unknown>) => {
    const before = syncs();
    await fn();
    return syncs() - before;
  };
  assert.equal(await syncsFor(() => store.db.selectFrom("meta").selectAll().execute()), 0, "a read");
  assert.equal(await syncsFor(() => store.db.insertInto("meta").values({ key: "t.autocommit", value: "1" }).execute()), 1, "a write outside a transaction");
  assert.equal(await syncsFor(() => store.db.transaction().execute((trx) => trx.insertInto("meta").values({ key: "t.tx", value: "1" }).execute())), 1, "a transaction");
  const rolledBack = store.db.transaction().execute(async (trx) => {
    await trx.insertInto("meta").values({ key: "t.gone", value: "1" }).execute();
    throw new Error("roll back");
  });
  assert.equal(await syncsFor(() => assert.rejects(rolledBack)), 0, "a rollback");
  assert.equal(await syncsFor(() => store.writeUnsynced((trx) => trx.insertInto("meta").values({ key: "t.unsynced", value: "1" }).execute())), 0, "an unsynced commit, at once");
  await sleep(UNSYNCED_COMMIT_DELAY_MS + 100);
  assert.ok(syncs() >= 3, "and within the delay");
  const keys = (await store.db.selectFrom("meta").select("key").where("key", "like", "t.%").execute()).map((row) => row.key).sort();
  assert.deepEqual(keys, ["t.autocommit", "t.tx", "t.unsynced"]);
});
