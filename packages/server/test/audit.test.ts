/**
 * The audit log: what an event says (and never: a value), the hash chain
 * catching each kind of tampering, fail-closed and fail-open writes, group
 * commit, queries, export, retention — on SQLite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { sql } from "kysely";
import { openCoffer, type AuditSettings, type Coffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { STORES, type StoreKind } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

const VALUE = "audit-test-VALUE-7f3a9c";

interface Env {
  coffer: Coffer;
  call(method: string, url: string, body?: unknown, token?: string): Promise<{ status: number; body: any; text: string; requestId: string | undefined }>;
  logs: string[];
}

async function openEnv(t: TestContext, store: StoreKind, audit?: AuditSettings, clock?: () => number): Promise<Env | null> {
  const target = await store.open(t);
  if (!target) return null;
  const logs: string[] = [];
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, audit, clock, log: (line) => logs.push(line) });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const call: Env["call"] = async (method, url, body, token = coffer.bootstrapToken!) => {
    const reply = await app.inject({
      method: method as "GET",
      url,
      headers: { authorization: `Bearer ${token}`, "user-agent": "audit-test/1.0" },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    const requestId = reply.headers["x-request-id"];
    const json = String(reply.headers["content-type"]).startsWith("application/json");
    return { status: reply.statusCode, body: json ? reply.json() : undefined, text: reply.body, requestId: typeof requestId === "string" ? requestId : undefined };
  };
  return { coffer, call, logs };
}

const SECRETS = "/api/v1/workspaces/default/secrets";

async function eventOf(env: Env, requestId: string | undefined) {
  await env.coffer.audit.drain();
  const { events } = await env.coffer.audit.query({ requestId }, {});
  assert.equal(events.length, 1, `one event for ${requestId}`);
  return events[0]!;
}

for (const store of STORES) {
  test(`an event names actor, token, target, outcome and source, never a value (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    const created = await env.call("POST", SECRETS, { name: "payments/stripe", data: { key: VALUE } });
    assert.equal(created.status, 201);
    const read = await env.call("GET", `${SECRETS}/${encodeURIComponent("payments/stripe")}`);
    assert.equal(read.status, 200);
    const event = await eventOf(env, read.requestId);
    const self = await env.call("GET", "/api/v1/auth/token/self");
    assert.equal(event.action, "secret.read");
    assert.equal(event.outcome, "ok");
    assert.equal(event.actorKind, "user");
    assert.equal(event.actorName, "admin");
    assert.equal(event.tokenId, self.body.info?.id ?? self.body.id);
    assert.equal(event.secretId, created.body.id);
    assert.equal(event.secretName, "payments/stripe");
    assert.match(event.workspaceId ?? "", /^ws_/);
    assert.equal(event.ip, "127.0.0.1");
    assert.equal(event.userAgent, "audit-test/1.0");

    const missing = await env.call("GET", `${SECRETS}/nope`);
    assert.equal((await eventOf(env, missing.requestId)).outcome, "not_found");
    const anonymous = await env.call("GET", `${SECRETS}/nope`, undefined, "cft_not-a-real-token");
    const refused = await eventOf(env, anonymous.requestId);
    assert.deepEqual([refused.outcome, refused.status, refused.actorKind, refused.tokenId], ["denied", 401, "anonymous", null]);

    // A batch read records one event per secret.
    await env.call("POST", SECRETS, { name: "other", data: { k: VALUE } });
    const batch = await env.call("POST", "/api/v1/workspaces/default/secret-reads", { names: ["payments/stripe", "other"] });
    await env.coffer.audit.drain();
    const { events } = await env.coffer.audit.query({ requestId: batch.requestId }, {});
    assert.deepEqual(events.map((e) => e.secretName).sort(), ["other", "payments/stripe"]);

    // Nothing the audit log holds, through the API or in the database, contains a value or a token.
    const exported = await env.call("GET", "/api/v1/audit/export");
    assert.equal(exported.status, 200);
    assert.ok(exported.text.split("\n").filter(Boolean).length >= 6);
    const rows = JSON.stringify(await env.coffer.store.db.selectFrom("auditEvents").selectAll().execute());
    for (const text of [exported.text, rows]) {
      assert.ok(!text.includes(VALUE), "no value in the audit log");
      assert.ok(!text.includes(env.coffer.bootstrapToken!), "no token in the audit log");
    }
  });

  test(`verify finds an edited, a removed, a reordered event and a cut tail, and says where (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    for (let i = 0; i < 8; i++) await env.call("GET", `${SECRETS}/s-${i}`);
    await env.coffer.audit.drain();
    const verify = async () => (await env.call("GET", "/api/v1/audit/verify")).body;
    const clean = await verify();
    assert.equal(clean.ok, true);
    // The verify request itself is appended after it answers; the log keeps growing.
    const db = env.coffer.store.db;
    const tampered = async (change: () => Promise<unknown>, undo: () => Promise<unknown>, reason: RegExp, seq: number) => {
      await env.coffer.audit.drain();
      await change();
      const result = await env.coffer.audit.verify();
      await undo();
      assert.equal(result.ok, false);
      assert.equal(result.problem?.seq, seq, JSON.stringify(result.problem));
      assert.match(result.problem!.reason, reason);
      assert.equal((await env.coffer.audit.verify()).ok, true, "undone, the chain is whole again");
    };
    const row = (seq: number) => db.selectFrom("auditEvents").selectAll().where("seq", "=", seq).executeTakeFirstOrThrow();
    const [three, four] = [await row(3), await row(4)];
    await tampered(
      () => db.updateTable("auditEvents").set({ outcome: "denied" }).where("seq", "=", 3).execute(),
      () => db.updateTable("auditEvents").set({ outcome: three.outcome }).where("seq", "=", 3).execute(),
      /event 3 does not match its hash/,
      3,
    );
    await tampered(
      () => db.deleteFrom("auditEvents").where("seq", "=", 4).execute(),
      () => db.insertInto("auditEvents").values(four).execute(),
      /events 4\.\.4 are missing/,
      4,
    );
    const [five, six] = [await row(5), await row(6)];
    const swap = async (a: typeof five, b: typeof five) => {
      // Two events change places: each takes the other's position in the chain.
      await db.deleteFrom("auditEvents").where("seq", "in", [5, 6]).execute();
      await db.insertInto("auditEvents").values([{ ...a, seq: 6 }, { ...b, seq: 5 }]).execute();
    };
    await tampered(() => swap(five, six), async () => {
      await db.deleteFrom("auditEvents").where("seq", "in", [5, 6]).execute();
      await db.insertInto("auditEvents").values([five, six]).execute();
    }, /event 5 does not match its hash/, 5);
    const last = await db.selectFrom("auditEvents").selectAll().orderBy("seq", "desc").limit(1).executeTakeFirstOrThrow();
    await tampered(
      () => db.deleteFrom("auditEvents").where("seq", "=", last.seq).execute(),
      () => db.insertInto("auditEvents").values(last).execute(),
      /events were removed from the end/,
      Number(last.seq),
    );
  });

  test(`fail closed: a request whose event cannot be written is refused and returns nothing (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    await env.call("POST", SECRETS, { name: "guarded", data: { key: VALUE } });
    await env.coffer.audit.drain();
    // The audit table disappears under the server: every append now fails.
    await sql`alter table audit_events rename to audit_events_away`.execute(env.coffer.store.db);
    const read = await env.call("GET", `${SECRETS}/guarded`);
    assert.equal(read.status, 503);
    assert.equal(read.body.error.code, "AUDIT_UNAVAILABLE");
    assert.ok(!read.text.includes(VALUE), "the value never left");
    assert.ok(env.logs.some((line) => line.includes("AUDIT WRITE FAILED") && line.includes("refused")));
    await sql`alter table audit_events_away rename to audit_events`.execute(env.coffer.store.db);
    assert.equal((await env.call("GET", `${SECRETS}/guarded`)).status, 200, "the log is back: so is the service");
    assert.equal((await env.coffer.audit.verify()).ok, true, "the refused request left no hole in the chain");
  });

  test(`fail open (configured): the request goes ahead and the loss is logged loudly (${store.kind})`, async (t) => {
    const env = await openEnv(t, store, { mode: "fail-open", retentionDays: 0 });
    if (!env) return;
    await env.call("POST", SECRETS, { name: "open", data: { key: VALUE } });
    await env.coffer.audit.drain();
    await sql`alter table audit_events rename to audit_events_away`.execute(env.coffer.store.db);
    const read = await env.call("GET", `${SECRETS}/open`);
    assert.equal(read.status, 200);
    assert.ok(env.logs.some((line) => line.includes("AUDIT WRITE FAILED") && line.includes("UNAUDITED")));
    await sql`alter table audit_events_away rename to audit_events`.execute(env.coffer.store.db);
  });

  test(`group commit: concurrent requests share batches, and the chain stays whole (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    await env.call("POST", SECRETS, { name: "hot", data: { key: VALUE } });
    await env.coffer.audit.drain();
    const batches: number[] = [];
    env.coffer.audit.onAppended((records) => batches.push(records.length));
    const replies = await Promise.all(Array.from({ length: 200 }, () => env.call("GET", `${SECRETS}/hot`)));
    assert.ok(replies.every((reply) => reply.status === 200));
    await env.coffer.audit.drain();
    const events = batches.reduce((a, b) => a + b, 0);
    assert.equal(events, 200);
    assert.ok(batches.length <= 20, `200 events in ${batches.length} batches`);
    const verified = await env.coffer.audit.verify();
    assert.equal(verified.ok, true);
  });

  test(`queries filter by time, actor, secret, action and outcome; workspace admins see their workspace only (${store.kind})`, async (t) => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const env = await openEnv(t, store, { mode: "on", retentionDays: 0 }, () => now);
    if (!env) return;
    const admin = env.coffer.bootstrapToken!;
    assert.equal((await env.call("POST", "/api/v1/users", { username: "wsadmin", password: "wsadmin-password-1" })).status, 201);
    assert.equal((await env.call("POST", "/api/v1/workspaces", { name: "other" })).status, 201);
    assert.equal((await env.call("PUT", "/api/v1/workspaces/other/members/wsadmin", { role: "admin" })).status, 200);
    const login = await env.call("POST", "/api/v1/auth/login", { username: "wsadmin", password: "wsadmin-password-1" });
    const wsadmin = login.body.token as string;
    await env.call("POST", SECRETS, { name: "early", data: { k: VALUE } });
    now += 3_600_000;
    await env.call("POST", "/api/v1/workspaces/other/secrets", { name: "theirs", data: { k: VALUE } }, wsadmin);
    await env.call("GET", "/api/v1/workspaces/other/secrets/missing", undefined, wsadmin);
    await env.coffer.audit.drain();

    const list = async (query: string, token = admin) => env.call("GET", `/api/v1/audit?${query}`, undefined, token);
    const names = (reply: { body: any }) => reply.body.events.map((e: any) => `${e.action}:${e.secretName ?? ""}`);
    assert.deepEqual(names(await list("secret=early")), ["secret.create:early"]);
    assert.deepEqual(names(await list("actor=wsadmin&action=secret.*")), ["secret.read:missing", "secret.create:theirs"]);
    assert.deepEqual(names(await list("outcome=not_found&actor=wsadmin")), ["secret.read:missing"]);
    assert.deepEqual(names(await list(`action=secret.create&to=${new Date(now - 1000).toISOString()}`)), ["secret.create:early"]);
    assert.deepEqual(names(await list(`action=secret.create&from=${new Date(now).toISOString()}`)), ["secret.create:theirs"]);
    const page = await list("limit=2");
    assert.equal(page.body.events.length, 2);
    const next = await list(`limit=2&before=${page.body.next}`);
    assert.ok(next.body.events[0].seq < page.body.events[1].seq, "the next page goes on from the cursor");

    // A workspace admin reads their workspace's events, and nothing else.
    assert.equal((await list("", wsadmin)).body.error.code, "ACCESS_DENIED");
    assert.equal((await list("workspace=default", wsadmin)).body.error.code, "WORKSPACE_NOT_FOUND");
    const own = await list("workspace=other", wsadmin);
    assert.equal(own.status, 200);
    assert.ok(own.body.events.length >= 2 && own.body.events.every((e: any) => e.workspaceId === own.body.events[0].workspaceId));
    assert.equal((await env.call("GET", "/api/v1/audit/verify", undefined, wsadmin)).status, 403);
    assert.equal((await env.call("GET", "/api/v1/audit/export?workspace=other", undefined, wsadmin)).status, 200);
    assert.equal((await list("action=bad%25pattern")).status, 400);
  });

  test(`retention removes old events and the chain still verifies from its anchor (${store.kind})`, async (t) => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const env = await openEnv(t, store, { mode: "on", retentionDays: 0 }, () => now);
    if (!env) return;
    for (let i = 0; i < 5; i++) await env.call("GET", `${SECRETS}/old-${i}`);
    now += 10 * 86_400_000;
    for (let i = 0; i < 3; i++) await env.call("GET", `${SECRETS}/new-${i}`);
    await env.coffer.audit.drain();
    assert.equal(await env.coffer.audit.prune(now - 86_400_000), 5);
    const left = await env.coffer.audit.query({}, {});
    assert.deepEqual(left.events.map((e) => e.secretName).reverse(), ["new-0", "new-1", "new-2"]);
    const verified = await env.coffer.audit.verify();
    assert.deepEqual([verified.ok, verified.checked], [true, 3]);
  });
}
