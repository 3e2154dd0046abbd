/**
 * Group commit of writes (store/group-commit.ts), once per store: writes made
 * at once share one transaction, each caller gets its own write's value or
 * error, and a failing write neither fails nor loses the others.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import { atBatchEnd } from "../src/store/group-commit.ts";
import { execute, prepared } from "../src/store/prepared.ts";
import { openStore, type Database } from "../src/store/store.ts";
import { countDatasyncs } from "./support/fdatasync-count.ts";
import { STORES } from "./support/stores.ts";

/**
 * Counts the commits that writes marked with `mark` went into: on
 * PostgreSQL their distinct transaction ids that committed (a batch in which
 * a write failed is rolled back and run again); on SQLite the syncs of the
 * WAL (every durable commit is one, and writes marked alone are all there is).
 */
async function commitCounter(t: TestContext, kind: "sqlite" | "postgres", db: Database) {
  if (kind === "postgres") {
    const ids = new Set<string>();
    return {
      mark: async (trx: Database) => void ids.add((await sql<{ id: string }>`select txid_current()::text as id`.execute(trx)).rows[0]!.id),
      count: async () => {
        let committed = 0;
        for (const id of ids) if ((await sql<{ status: string }>`select txid_status(${id}::bigint) as status`.execute(db)).rows[0]!.status === "committed") committed++;
        return committed;
      },
    };
  }
  const syncs = await countDatasyncs(t);
  return { mark: async (_trx: Database) => {}, count: async () => syncs() };
}

for (const kind of STORES) {
  test(`writes made at once share one commit; a failing write fails only its own caller and leaves nothing behind (${kind.kind})`, async (t) => {
    const target = await kind.open(t);
    if (!target) return;
    const store = await openStore({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    t.after(() => store.close());
    await store.db.insertInto("meta").values({ key: "gc.taken", value: "0" }).execute();
    const commits = await commitCounter(t, target.kind, store.db);

    const writes = Array.from({ length: 12 }, (_, i) =>
      store.writeGrouped(async (trx) => {
        await trx.insertInto("meta").values({ key: `gc.write.${i}`, value: String(i) }).execute();
        if (i === 3) throw new Error("refused by the write itself");
        // A constraint the database enforces: the key exists.
        if (i === 7) await trx.insertInto("meta").values({ key: "gc.taken", value: "1" }).execute();
        await commits.mark(trx);
        return i;
      }),
    );
    const settled = await Promise.allSettled(writes);

    assert.equal(settled[3]!.status, "rejected");
    assert.match(String((settled[3] as PromiseRejectedResult).reason), /refused by the write itself/, "the write's own error reaches its caller");
    assert.equal(settled[7]!.status, "rejected", "a constraint failure reaches the write that broke it");
    const done = settled.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    assert.deepEqual(
      done,
      [0, 1, 2, 4, 5, 6, 8, 9, 10, 11],
      "every other caller gets its own write's value",
    );
    assert.equal(await commits.count(), 1, "the writes shared one commit");

    const stored = await store.db.selectFrom("meta").select(["key", "value"]).where("key", "like", "gc.%").orderBy("key").execute();
    assert.deepEqual(
      stored.map((row) => row.key).sort(),
      ["gc.taken", ...[0, 1, 2, 4, 5, 6, 8, 9, 10, 11].map((i) => `gc.write.${i}`)].sort(),
      "the failing writes left nothing behind, the others are committed",
    );
    assert.equal(stored.find((row) => row.key === "gc.taken")!.value, "0");
  });

  test(`writes arriving while a batch commits form the next one, which they share (${kind.kind})`, async (t) => {
    const target = await kind.open(t);
    if (!target) return;
    const store = await openStore({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    t.after(() => store.close());
    const commits = await commitCounter(t, target.kind, store.db);
    let later: Promise<void>[] = [];
    const first = store.writeGrouped(async (trx) => {
      // Arrive while the first batch is under way: they wait for a later commit rather than join this one.
      later = [0, 1].map((i) =>
        store.writeGrouped(async (inner) => {
          await inner.insertInto("meta").values({ key: `gc.later.${i}`, value: "1" }).execute();
          await commits.mark(inner);
        }),
      );
      await trx.insertInto("meta").values({ key: "gc.first", value: "1" }).execute();
      await commits.mark(trx);
    });
    await first;
    await Promise.all(later);
    assert.equal(await commits.count(), 2, "the first write's commit, and one that the two arriving meanwhile share");
    const keys = (await store.db.selectFrom("meta").select("key").where("key", "like", "gc.%").execute()).map((row) => row.key).sort();
    assert.deepEqual(keys, ["gc.first", "gc.later.0", "gc.later.1"]);
  });
}

for (const kind of STORES) {
  test(`what writes leave for the end of their batch runs once, with what the writes that stayed left, in their order (${kind.kind})`, async (t) => {
    const target = await kind.open(t);
    if (!target) return;
    const store = await openStore({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    t.after(() => store.close());
    const runs: number[][] = [];
    const step = async (trx: Database, items: number[]) => {
      runs.push(items);
      await trx.insertInto("meta").values({ key: "gc.end", value: items.join(",") }).execute();
    };
    const writes = Array.from({ length: 6 }, (_, i) =>
      store.writeGrouped(async (trx) => {
        assert.ok(atBatchEnd(trx, step, i));
        await trx.insertInto("meta").values({ key: `gc.write.${i}`, value: String(i) }).execute();
        if (i === 2) throw new Error("refused after leaving work");
        return i;
      }),
    );
    const settled = await Promise.allSettled(writes);
    assert.deepEqual(settled.map((outcome) => outcome.status), ["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
    // The batch ran first without savepoints, failed at write 2 and ran again isolated: only that run reached its end.
    assert.deepEqual(runs, [[0, 1, 3, 4, 5]], "one run of the step, without the item of the write rolled back");
    const end = await store.db.selectFrom("meta").select("value").where("key", "=", "gc.end").executeTakeFirst();
    assert.equal(end?.value, "0,1,3,4,5");
    assert.equal(atBatchEnd(store.db, step, 9), false, "outside a batch there is no end to leave work for");
  });

  test(`a failing step at the end of a batch fails the batch's writes, which leave nothing behind (${kind.kind})`, async (t) => {
    const target = await kind.open(t);
    if (!target) return;
    const store = await openStore({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    t.after(() => store.close());
    const step = async () => {
      throw new Error("the step failed");
    };
    const writes = Array.from({ length: 3 }, (_, i) =>
      store.writeGrouped(async (trx) => {
        await trx.insertInto("meta").values({ key: `gc.doomed.${i}`, value: String(i) }).execute();
        if (i === 1) atBatchEnd(trx, step, i);
      }),
    );
    const settled = await Promise.allSettled(writes);
    for (const outcome of settled) {
      assert.equal(outcome.status, "rejected");
      assert.match(String((outcome as PromiseRejectedResult).reason), /the step failed/);
    }
    assert.deepEqual(await store.db.selectFrom("meta").select("key").where("key", "like", "gc.doomed.%").execute(), []);
  });
}

/**
 * The most statements any one pg client had sent and not yet had answered
 * while `body` ran: 1 where each statement waits for the one before.
 */
async function mostInFlight(t: TestContext, body: () => Promise<void>): Promise<number> {
  const inFlight = new Map<object, number>();
  let most = 0;
  const query = pg.Client.prototype.query;
  t.mock.method(pg.Client.prototype, "query", function (this: pg.Client, ...args: unknown[]) {
    const result = (query as (...args: unknown[]) => unknown).apply(this, args);
    if (!(result instanceof Promise)) return result;
    inFlight.set(this, (inFlight.get(this) ?? 0) + 1);
    most = Math.max(most, inFlight.get(this)!);
    const done = () => void inFlight.set(this, inFlight.get(this)! - 1);
    result.then(done, done);
    return result;
  });
  await body();
  t.mock.restoreAll();
  return most;
}

const insertMeta = prepared((db: Database, p: { key: string; value: string }) => db.insertInto("meta").values({ key: p.key, value: p.value }));

for (const kind of STORES) {
  test(`writes side by side send their statements together, and a failing one still fails only its own caller (${kind.kind})`, async (t) => {
    const target = await kind.open(t);
    if (!target) return;
    const store = await openStore({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    t.after(() => store.close());
    const commits = await commitCounter(t, target.kind, store.db);
    let settled: PromiseSettledResult<number>[] = [];
    const most = await mostInFlight(t, async () => {
      const writes = Array.from({ length: 8 }, (_, i) =>
        store.writeGrouped(
          async (trx) => {
            await execute(trx, insertMeta(trx, { key: `gc.side.${i}`, value: String(i) }));
            // A second statement, after every write's first is in: the key write 0 took.
            if (i === 5) await execute(trx, insertMeta(trx, { key: "gc.side.0", value: "taken again" }));
            await commits.mark(trx);
            return i;
          },
          { sideBySide: `gc.side.${i}` },
        ),
      );
      settled = await Promise.allSettled(writes);
    });

    if (target.kind === "postgres") assert.ok(most >= 8, `the eight writes' first statements were on the wire at once (at most ${most} were)`);
    assert.deepEqual(settled.map((outcome) => outcome.status), ["fulfilled", "fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
    assert.equal(await commits.count(), 1, "the writes that stayed shared one commit");
    const stored = await store.db.selectFrom("meta").select(["key", "value"]).where("key", "like", "gc.side.%").orderBy("key").execute();
    assert.deepEqual(
      stored.map((row) => `${row.key}=${row.value}`),
      [0, 1, 2, 3, 4, 6, 7].map((i) => `gc.side.${i}=${i}`),
      "the failing write left nothing behind, and took nothing of the others with it",
    );
  });
}
