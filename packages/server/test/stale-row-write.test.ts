/**
 * A PUT starts from the secret's row as its node last wrote it, or as the
 * read path cached it, without reading it first; that copy may be stale.
 * Whatever changed since (through another route, on another node, in a
 * statement that leaves updated_at alone, within the same millisecond: the
 * clock here stands still) is neither reverted nor skipped by the write.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { openCoffer, type Coffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { recordExpiryWarning } from "../src/lifecycle/lifecycle.repository.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { STORES } from "./support/stores.ts";

const SECRETS = "/api/v1/workspaces/default/secrets";

for (const store of STORES) {
  test(`a PUT from a stale copy of the row keeps every change made since (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const now = Date.now();
    const open = async () => {
      const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, clock: () => now });
      t.after(() => coffer.close());
      const app = await buildApp(coffer);
      t.after(() => app.close());
      return { coffer, app };
    };
    const a = await open();
    // On PostgreSQL the changes come from a second node; on SQLite, which has one, from another route of the same node.
    const b = store.kind === "postgres" ? await open() : a;
    const token = a.coffer.bootstrapToken!;
    const call = async (node: { app: Awaited<ReturnType<typeof buildApp>> }, method: "GET" | "POST" | "PUT" | "PATCH", url: string, body?: object) => {
      const reply = await node.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body }) });
      return { status: reply.statusCode, body: reply.json() as { id: string; label: string; version: number; data: Record<string, string>; expiresAt?: string; error?: { code: string } } };
    };
    const stored = async (coffer: Coffer, id: string) => (await coffer.store.db.selectFrom("secrets").selectAll().where("id", "=", id).executeTakeFirstOrThrow());

    const created = await call(a, "POST", SECRETS, { name: "s", label: "one", data: { value: "v1" } });
    assert.equal(created.status, 201);
    const { id } = created.body;
    assert.equal((await call(a, "PUT", `${SECRETS}/s`, { data: { value: "v2" } })).status, 200, "node a now holds the row");

    // A label changed by another route or node.
    assert.equal((await call(b, "PATCH", `${SECRETS}/s`, { label: "two" })).status, 200);
    const third = await call(a, "PUT", `${SECRETS}/s`, { data: { value: "v3" } });
    assert.deepEqual([third.status, third.body.label, third.body.version], [200, "two", 3]);

    // An expiry set elsewhere, then its warning recorded by the lifecycle job (which leaves updated_at alone).
    const expiresAt = new Date(now + 30 * 86_400_000).toISOString();
    assert.equal((await call(b, "PATCH", `${SECRETS}/s`, { expiresAt })).status, 200);
    const fourth = await call(a, "PUT", `${SECRETS}/s`, { data: { value: "v4" } });
    assert.deepEqual([fourth.status, fourth.body.expiresAt, fourth.body.version], [200, expiresAt, 4]);
    assert.equal(await recordExpiryWarning(b.coffer.store.db, id, Date.parse(expiresAt), now), true);
    assert.equal((await call(a, "PUT", `${SECRETS}/s`, { data: { value: "v5" } })).status, 200);
    assert.equal((await stored(a.coffer, id)).expiryWarnedAt, now, "the warning stays recorded: it is not sent again");

    // A label changed past every cache (a statement no change feed tells of), while the read path holds the row.
    assert.equal((await call(a, "GET", `${SECRETS}/s`)).body.label, "two", "cached by node a's read path");
    await b.coffer.store.db.updateTable("secrets").set({ label: "three" }).where("id", "=", id).execute();
    const sixth = await call(a, "PUT", `${SECRETS}/s`, { data: { value: "v6" } });
    assert.deepEqual([sixth.status, sixth.body.label, sixth.body.version], [200, "three", 6]);

    // Check-and-set required since: a write without cas is refused, one with the current version goes through.
    assert.equal((await call(b, "PATCH", `${SECRETS}/s/metadata`, { casRequired: true })).status, 200);
    const refused = await call(a, "PUT", `${SECRETS}/s`, { data: { value: "v7" } });
    assert.deepEqual([refused.status, refused.body.error?.code], [400, "INVALID_REQUEST"]);
    const seventh = await call(a, "PUT", `${SECRETS}/s`, { data: { value: "v7" }, cas: 6 });
    assert.deepEqual([seventh.status, seventh.body.version], [200, 7]);

    const row = await stored(b.coffer, id);
    assert.deepEqual([row.label, row.expiresAt, row.expiryWarnedAt, row.casRequired, row.currentVersion], ["three", Date.parse(expiresAt), now, 1, 7]);
    const read = await call(b, "GET", `${SECRETS}/s`);
    assert.deepEqual([read.body.label, read.body.data.value], ["three", "v7"]);
    assert.equal((await a.coffer.audit.verify()).ok, true);
  });
}
