/**
 * The audit log: what an event says (and never: a value), the hash chain
 * catching each kind of tampering, fail-closed and fail-open writes, group
 * commit, queries, export, retention — on SQLite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { sql, type Kysely } from "kysely";
import { EVENT_FIELDS, GENESIS, chainHash, eventLine } from "../src/audit/audit-chain.ts";
import { readHead, writeHead } from "../src/audit/audit.repository.ts";
import { systemEvent } from "../src/audit/audit.types.ts";
import { migrateTo } from "../src/store/migrate.ts";
import { atBatchEnd } from "../src/store/group-commit.ts";
import { openStore, type Store } from "../src/store/store.ts";
import { appendToSharedStore, type AuditAppender } from "../src/audit/audit-append.ts";
import { AuditLog } from "../src/audit/audit.service.ts";
import { openCoffer, type AuditSettings, type Coffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { eventsOf, segmentOf, type SegmentRow } from "../src/audit/audit-segment.ts";
import type { AuditRecord } from "../src/audit/audit.types.ts";
import { STORES, type StoreKind } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { countDatasyncs } from "./support/fdatasync-count.ts";

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

test("an event's chain line holds its seq and then EVENT_FIELDS, in that order", () => {
  const event = { ...systemEvent(1234, "secret.read", { workspaceId: "ws_1", secretId: "sec_1", secretName: "s" }), requestId: "req-1", subject: "x" };
  assert.equal(eventLine(7, event), JSON.stringify([7, ...EVENT_FIELDS.map((field) => event[field])]));
});

test("a batch waits for its sync to disk when it holds a change, or always with syncReads; a batch of reads only once written", async () => {
  const appended: { actions: string[]; synced: boolean }[] = [];
  const appender: AuditAppender = async (events, synced) => {
    appended.push({ actions: events.map((event) => event.action), synced });
    return { records: events.map((event, i) => ({ ...event, seq: i + 1, hash: "" })), stale: new Set() };
  };
  const event = (action: string) => ({ ...systemEvent(0, action, { workspaceId: "ws_1", secretId: "sec_1", secretName: "s" }) });
  const store = null as unknown as Store; // recording never reads the store
  const relaxed = new AuditLog(store, appender);
  await Promise.all([relaxed.record(event("secret.read"), true), relaxed.record(event("secret.read"), true)]);
  await Promise.all([relaxed.record(event("secret.read"), true), relaxed.record(event("secret.update"))]);
  const strict = new AuditLog(store, appender, { syncReads: true });
  await strict.record(event("secret.read"), true);
  assert.deepEqual(appended, [
    { actions: ["secret.read", "secret.read"], synced: false },
    { actions: ["secret.read", "secret.update"], synced: true },
    { actions: ["secret.read"], synced: true },
  ]);
});

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
    const segments = await env.coffer.store.db.selectFrom("auditSegments").selectAll().execute();
    const rows = JSON.stringify(segments.map((row) => ({ ...row, events: Buffer.from(row.events).toString("utf8") })));
    for (const text of [exported.text, rows]) {
      assert.ok(!text.includes(VALUE), "no value in the audit log");
      assert.ok(!text.includes(env.coffer.bootstrapToken!), "no token in the audit log");
    }
  });

  test(`a PUT that makes the secret is audited, and alerted, as its creation; the next as an update (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    const made = await env.call("PUT", `${SECRETS}/put-made`, { data: { key: VALUE } });
    assert.equal(made.status, 201);
    const replaced = await env.call("PUT", `${SECRETS}/put-made`, { data: { key: `${VALUE}-2` } });
    assert.equal(replaced.status, 200);
    const [first, second] = [await eventOf(env, made.requestId), await eventOf(env, replaced.requestId)];
    assert.deepEqual([first.action, first.status, first.secretName], ["secret.create", 201, "put-made"]);
    assert.deepEqual([second.action, second.status, second.secretName], ["secret.update", 200, "put-made"]);
    await env.coffer.alerts.settled();
    const alerts = (await env.call("GET", "/api/v1/workspaces/default/alerts")).body.alerts as { type: string }[];
    assert.deepEqual(alerts.map((alert) => alert.type).sort(), ["secret.created", "secret.updated"]);
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
    const segmentWith = (seq: number) =>
      db.selectFrom("auditSegments").selectAll().where("firstSeq", "<=", seq).where("lastSeq", ">=", seq).executeTakeFirstOrThrow();
    const remove = (rows: SegmentRow[]) => db.deleteFrom("auditSegments").where("firstSeq", "in", rows.map((row) => row.firstSeq)).execute();
    const put = (rows: SegmentRow[]) => db.insertInto("auditSegments").values(rows).execute();
    /** Segments replaced by forged ones (each with a summary that matches its events, as a careful forger would make). */
    const replace = async (originals: SegmentRow[], forged: AuditRecord[][], reason: RegExp, seq: number) =>
      tampered(
        async () => {
          await remove(originals);
          await put(forged.map(segmentOf));
        },
        async () => {
          await db.deleteFrom("auditSegments").where("firstSeq", "in", forged.map((events) => events[0]!.seq)).execute();
          await put(originals);
        },
        reason,
        seq,
      );

    // Sequential requests: one event to a segment.
    const three = await segmentWith(3);
    await replace([three], [eventsOf(three).map((event) => ({ ...event, outcome: "denied" as const }))], /event 3 does not match its hash/, 3);
    const four = await segmentWith(4);
    await tampered(() => remove([four]), () => put([four]), /events 4\.\.4 are missing/, 4);
    const [five, six] = [await segmentWith(5), await segmentWith(6)];
    // Two events change places: each takes the other's position in the chain.
    const [[a], [b]] = [eventsOf(five), eventsOf(six)];
    await replace([five, six], [[{ ...b!, seq: 5 }], [{ ...a!, seq: 6 }]], /event 5 does not match its hash/, 5);
    // A summary that no longer matches its events would hide them from queries.
    const seven = await segmentWith(7);
    await tampered(
      () => db.updateTable("auditSegments").set({ keys: "\n" }).where("firstSeq", "=", 7).execute(),
      () => db.updateTable("auditSegments").set({ keys: seven.keys }).where("firstSeq", "=", 7).execute(),
      /the summary of events 7\.\.7 does not match them/,
      7,
    );

    // Concurrent requests share a segment: an event edited or removed inside one is found too.
    await Promise.all(Array.from({ length: 20 }, (_, i) => env.call("GET", `${SECRETS}/together-${i}`)));
    await env.coffer.audit.drain();
    const shared = (await db.selectFrom("auditSegments").selectAll().orderBy("firstSeq", "desc").execute()).find((row) => row.lastSeq - row.firstSeq >= 2)!;
    assert.ok(shared, "some requests shared a segment");
    const events = eventsOf(shared);
    const middle = events[1]!.seq;
    await replace([shared], [events.map((event) => (event.seq === middle ? { ...event, ip: "10.6.6.6" } : event))], new RegExp(`event ${middle} does not match its hash`), middle);
    await replace([shared], [events.filter((event) => event.seq !== middle)], new RegExp(`events ${middle}\\.\\.${middle} are missing`), middle);

    const last = await db.selectFrom("auditSegments").selectAll().orderBy("firstSeq", "desc").limit(1).executeTakeFirstOrThrow();
    await tampered(() => remove([last]), () => put([last]), /events were removed from the end/, last.firstSeq);
  });

  test(`fail closed: a request whose event cannot be written is refused and returns nothing (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    await env.call("POST", SECRETS, { name: "guarded", data: { key: VALUE } });
    await env.coffer.audit.drain();
    // The audit table disappears under the server: every append now fails.
    await sql`alter table audit_segments rename to audit_segments_away`.execute(env.coffer.store.db);
    const read = await env.call("GET", `${SECRETS}/guarded`);
    assert.equal(read.status, 503);
    assert.equal(read.body.error.code, "AUDIT_UNAVAILABLE");
    assert.ok(!read.text.includes(VALUE), "the value never left");
    assert.ok(env.logs.some((line) => line.includes("AUDIT WRITE FAILED") && line.includes("refused")));
    if (store.kind === "sqlite") {
      // The event goes in at the end of the change's batch (AuditLog.appendInCommit): failing there, it fails the change too.
      const writes = await Promise.all([1, 2].map((i) => env.call("PUT", `${SECRETS}/guarded`, { data: { key: `${VALUE}-${i}` } })));
      for (const write of writes) {
        assert.equal(write.status, 503, "both changes refused");
        assert.equal(write.body.error.code, "AUDIT_UNAVAILABLE");
        assert.ok(!write.text.includes(VALUE));
      }
      assert.ok(env.logs.some((line) => line.includes("AUDIT WRITE FAILED") && line.includes("the changes were not made")), "logged as changes refused");
    }
    await sql`alter table audit_segments_away rename to audit_segments`.execute(env.coffer.store.db);
    assert.equal((await env.call("GET", `${SECRETS}/guarded`)).body.version, 1, "the log is back: so is the service, and the refused changes were not made");
    assert.equal((await env.coffer.audit.verify()).ok, true, "the refused request left no hole in the chain");
  });

  test(`fail open (configured): the request goes ahead and the loss is logged loudly (${store.kind})`, async (t) => {
    const env = await openEnv(t, store, { mode: "fail-open", retentionDays: 0 });
    if (!env) return;
    await env.call("POST", SECRETS, { name: "open", data: { key: VALUE } });
    await env.coffer.audit.drain();
    await sql`alter table audit_segments rename to audit_segments_away`.execute(env.coffer.store.db);
    const read = await env.call("GET", `${SECRETS}/open`);
    assert.equal(read.status, 200);
    assert.ok(env.logs.some((line) => line.includes("AUDIT WRITE FAILED") && line.includes("UNAUDITED")));
    await sql`alter table audit_segments_away rename to audit_segments`.execute(env.coffer.store.db);
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

  // On PostgreSQL a change's event is appended after its commit (audit-append.ts, appendToSharedStore, says why).
  if (store.kind === "sqlite") {
    test(`an update's event is in the transaction that makes its version: one grouped write and one sync per update (${store.kind})`, async (t) => {
      const env = await openEnv(t, store);
      if (!env) return;
      const created = await env.call("PUT", `${SECRETS}/together`, { data: { key: VALUE } });
      assert.equal(created.status, 201);
      await env.coffer.audit.drain();
      const grouped = env.coffer.store;
      const original = grouped.writeGrouped;
      /** What each grouped transaction held at the end of its batch, once the steps its writes left (the event's) had run, just before its commit. */
      const seen: { version: number | undefined; requestIds: string[] }[] = [];
      const inspect = async (trx: Store["db"]) => {
        const secret = await trx.selectFrom("secrets").select("currentVersion").where("id", "=", created.body.id).executeTakeFirst();
        const head = await readHead(trx);
        const segment = await trx.selectFrom("auditSegments").selectAll().where("lastSeq", "=", head!.seq).executeTakeFirstOrThrow();
        seen.push({ version: secret?.currentVersion, requestIds: eventsOf(segment).map((event) => event.requestId) });
      };
      grouped.writeGrouped = (fn) =>
        original(async (trx) => {
          const value = await fn(trx);
          assert.ok(atBatchEnd(trx, inspect, null));
          return value;
        });
      t.after(() => (grouped.writeGrouped = original));
      const syncs = await countDatasyncs(t);

      const updated = await env.call("PUT", `${SECRETS}/together`, { data: { key: `${VALUE}-2` } });
      assert.equal(updated.status, 200);
      assert.equal(syncs(), 1, "the change and its event share one sync");
      await env.coffer.audit.drain();
      assert.deepEqual(seen, [{ version: 2, requestIds: [updated.requestId] }], "one grouped transaction made the version and held its event");
      const event = await eventOf(env, updated.requestId);
      assert.deepEqual([event.action, event.status, event.outcome, event.secretId, event.secretName], ["secret.update", 200, "ok", created.body.id, "together"]);
      assert.equal((await env.coffer.audit.verify()).ok, true);
    });
  }

  test(`a change rolled back after its event was written leaves no event saying it succeeded, only the error it was answered (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    for (const name of ["doomed", "fine-1", "fine-2", "fine-3"]) await env.call("PUT", `${SECRETS}/${name}`, { data: { key: VALUE } });
    await env.coffer.audit.drain();
    const alerted: string[] = [];
    env.coffer.audit.onAppended((records) => alerted.push(...records.map((record) => `${record.action} ${record.secretName}:${record.status}`)));
    // The last statement of the write (after its version and its event): failing, it rolls back the write's savepoint, or its transaction when alone.
    const changes = env.coffer.store.changes;
    const announce = changes.announce;
    changes.announce = async (db, change) => {
      if (change.kind === "secret" && change.name === "doomed") throw new Error("announce failed");
      return announce.call(changes, db, change);
    };
    t.after(() => (changes.announce = announce));
    // Together, so the doomed write shares batches with writes that commit.
    const replies = await Promise.all(["doomed", "fine-1", "fine-2", "fine-3", "doomed"].map((name) => env.call("PUT", `${SECRETS}/${name}`, { data: { key: `${VALUE}-2` } })));
    assert.deepEqual(replies.map((reply) => reply.status), [500, 200, 200, 200, 500]);
    await env.coffer.audit.drain();
    for (const [i, reply] of replies.entries()) {
      const event = await eventOf(env, reply.requestId);
      assert.deepEqual([event.status, event.outcome], i === 0 || i === 4 ? [500, "error"] : [200, "ok"]);
    }
    const doomed = await env.call("GET", `${SECRETS}/doomed`);
    assert.equal(doomed.body.version, 1, "the doomed change was not made");
    assert.deepEqual(alerted.filter((line) => line.startsWith("secret.update")).sort(), [
      "secret.update doomed:500", "secret.update doomed:500", "secret.update fine-1:200", "secret.update fine-2:200", "secret.update fine-3:200",
    ], "listeners hear of every answer's event, and of no success for the change rolled back");
    assert.equal((await env.coffer.audit.verify()).ok, true);
  });

  test(`an answer that differs from what the change's event said is audited as an event of its own (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    await env.call("PUT", `${SECRETS}/after`, { data: { key: VALUE } });
    // The Vault write reads the secret's metadata once its change is committed: failing there, it answers 500 for a change made.
    const secrets = env.coffer.secrets;
    const metadata = secrets.metadata;
    secrets.metadata = async () => {
      throw new Error("failed after the commit");
    };
    t.after(() => (secrets.metadata = metadata));
    const reply = await env.call("POST", "/v1/secret/data/after", { data: { key: `${VALUE}-2` } });
    assert.equal(reply.status, 500);
    await env.coffer.audit.drain();
    const { events } = await env.coffer.audit.query({ requestId: reply.requestId }, {});
    // SQLite: the change's event (in its commit) and the answer's; PostgreSQL records the answer's alone, after the commit.
    assert.deepEqual(events.map((event) => event.status).sort(), store.kind === "sqlite" ? [200, 500] : [500]);
    secrets.metadata = metadata;
    assert.equal((await env.call("GET", `${SECRETS}/after`)).body.version, 2, "the change was made");
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

  test(`events logged one row each before segments move into segments with their chain whole (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    // A store as the version before segments left it: migrations up to 0005 and a chain of events in audit_events.
    const old = await openStore({ dataDir: target.dataDir, databaseUrl: target.databaseUrl, migrate: false });
    await migrateTo(old.db, old.dialect, "0005-rate-limits");
    const legacy = old.db as unknown as Kysely<any>;
    let previous = { seq: 0, hash: GENESIS };
    const records: AuditRecord[] = [];
    for (let seq = 1; seq <= 1203; seq++) {
      const event = { ...systemEvent(1_700_000_000_000 + seq, "secret.auto-rotate", { workspaceId: "ws_old", secretId: `sec_${seq % 7}`, secretName: `old-${seq % 7}` }), requestId: `req-${seq}` };
      previous = { seq, hash: chainHash(previous.hash, seq, event) };
      records.push({ ...event, ...previous });
    }
    // One event edited after it was hashed: still found after the move.
    records[599] = { ...records[599]!, outcome: "denied" };
    for (let i = 0; i < records.length; i += 100) await legacy.insertInto("auditEvents").values(records.slice(i, i + 100)).execute();
    await writeHead(old.db, previous);
    await old.close();

    const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, audit: { mode: "on", retentionDays: 0 }, log: () => {} });
    t.after(() => coffer.close());
    const segments = await coffer.store.db.selectFrom("auditSegments").select(["firstSeq", "lastSeq"]).orderBy("firstSeq").execute();
    assert.deepEqual(segments.map((row) => [row.firstSeq, row.lastSeq]), [[1, 1000], [1001, 1203]]);
    assert.deepEqual((await coffer.audit.verify()).problem, { seq: 600, reason: "event 600 does not match its hash: it was edited, or events were reordered or replaced" });
    const { events } = await coffer.audit.query({ secret: "old-3" }, { limit: 2 });
    assert.deepEqual(events, records.filter((record) => record.secretName === "old-3").reverse().slice(0, 2));
  });

}

test("nodes appending to one PostgreSQL at once make one chain that holds each batch once (postgres)", async (t) => {
  const target = await STORES.find((store) => store.kind === "postgres")!.open(t);
  if (!target) return;
  const nodes = await Promise.all([1, 2, 3].map(() => openStore({ dataDir: target.dataDir, databaseUrl: target.databaseUrl })));
  t.after(() => Promise.all(nodes.map((node) => node.close())));
  const logs = nodes.map((node) => new AuditLog(node, appendToSharedStore(node)));
  const told: AuditRecord[] = [];
  for (const log of logs) log.onAppended((records) => told.push(...records));
  const event = (node: number, round: number, i: number) => ({ ...systemEvent(round, "secret.read", { workspaceId: "ws_1", secretId: "sec_1", secretName: "s" }), requestId: `${node}-${round}-${i}` });
  // No node knows the head at first, so the first appends race for the empty log; then each node's compare-and-set keeps losing to the others'.
  await Promise.all(
    logs.map(async (log, node) => {
      for (let round = 0; round < 40; round++) {
        await Promise.all(Array.from({ length: 1 + ((round + node) % 4) }, (_, i) => log.record(event(node, round, i), i % 3 !== 0)));
      }
    }),
  );
  const verified = await logs[0]!.verify();
  assert.deepEqual([verified.ok, verified.problem], [true, undefined]);
  const { events } = await logs[0]!.query({}, { after: 0, limit: 1000 });
  assert.equal(events.length, verified.checked);
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
  const expected = logs.flatMap((_, node) => Array.from({ length: 40 }, (_, round) => Array.from({ length: 1 + ((round + node) % 4) }, (_, i) => `${node}-${round}-${i}`)).flat());
  assert.deepEqual(events.map((e) => e.requestId).sort(), expected.sort(), "every event once");
  assert.deepEqual(told.sort((a, b) => a.seq - b.seq), events, "what the listeners were told is what the chain holds");
});

test("a cached read on PostgreSQL is recorded only once confirmed current: a change another node made answers from the store, with one event (postgres)", async (t) => {
  const env = await openEnv(t, STORES.find((store) => store.kind === "postgres")!);
  if (!env) return;
  const created = await env.call("POST", SECRETS, { name: "fresh", label: "before", data: { key: VALUE } });
  assert.equal(created.status, 201);
  const read = async () => {
    const reply = await env.call("GET", `${SECRETS}/fresh`);
    await env.coffer.audit.drain();
    const { events } = await env.coffer.audit.query({ requestId: reply.requestId }, {});
    return { reply, events };
  };
  assert.equal((await read()).reply.body.label, "before", "cached from here on");
  const cached = await read();
  assert.deepEqual([cached.reply.status, cached.events.map((e) => [e.outcome, e.secretId])], [200, [["ok", created.body.id]]]);
  // Changes committed by another node whose notification has not arrived: written past this node's change feed.
  const otherNode = (change: { label?: string; deletedAt?: number }) =>
    env.coffer.store.db.updateTable("secrets").set((eb) => ({ ...change, updatedAt: eb("updatedAt", "+", 1) })).where("id", "=", created.body.id).execute();
  await otherNode({ label: "after" });
  const changed = await read();
  assert.deepEqual([changed.reply.body.label, changed.events.map((e) => e.outcome)], ["after", ["ok"]]);
  await otherNode({ deletedAt: Date.now() });
  const deleted = await read();
  assert.deepEqual([deleted.reply.status, deleted.events.map((e) => e.outcome)], [404, ["not_found"]], "no event says the stale value was read");
  assert.equal((await env.coffer.audit.verify()).ok, true);
});
