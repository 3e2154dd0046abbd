/**
 * Rotation of secret values, on each store, over a simulated clock: status
 * transitions, workspace defaults per label, reminders sent once (across two
 * nodes on PostgreSQL), self-rotation with its grace period.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test, type TestContext } from "node:test";
import { openCoffer, type Coffer } from "../src/coffer.ts";
import { DAY_MS } from "../src/core/clock.ts";
import type { Principal } from "../src/identity/principal.ts";
import type { RotationEvent } from "../src/rotation/rotation.events.ts";
import type { SecretContext } from "../src/secret/secret.service.ts";
import { JOB_LOCKS } from "../src/store/dialect.ts";
import { STORES, type StoreTarget } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

const HOUR_MS = 3_600_000;

interface Node {
  coffer: Coffer;
  ctx: SecretContext;
  principal: Principal;
  events: RotationEvent[];
}

/** A simulated clock shared by every node of one test. */
function simulatedClock() {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms: number) => (offset += ms) };
}

async function node(t: TestContext, target: StoreTarget, now: () => number, token?: string): Promise<Node & { token: string }> {
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, clock: now, rotationJobEveryMs: 0 });
  t.after(() => coffer.close());
  const bootstrap = token ?? coffer.bootstrapToken!;
  const principal = await coffer.auth.authenticate(bootstrap, "127.0.0.1");
  const events: RotationEvent[] = [];
  coffer.rotationEvents.subscribe((event) => events.push(event));
  return { coffer, ctx: await coffer.secrets.context(principal, "default"), principal, events, token: bootstrap };
}

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string }) => {
    assert.equal(error.code, code);
    return true;
  });
}

for (const store of STORES) {
  const each = (name: string, body: (t: TestContext, target: StoreTarget) => Promise<void>) =>
    test(`${name} (${store.kind})`, async (t) => {
      const target = await store.open(t);
      if (target) await body(t, target);
    });

  each("rotation status goes ok → due → overdue over a simulated clock, and a new value starts it again", async (t, target) => {
    const clock = simulatedClock();
    const { coffer, ctx } = await node(t, target, clock.now);
    const created = await coffer.secrets.create(ctx, { name: "db", data: { password: "p1" }, rotationIntervalDays: 30 });
    assert.equal(created.rotation?.status, "ok");
    assert.equal(created.rotation?.intervalDays, 30);
    assert.equal(Date.parse(created.rotation!.dueAt) - Date.parse(created.rotation!.rotatedAt), 30 * DAY_MS);
    const status = async (ref = "db") => (await coffer.secrets.get(ctx, ref)).rotation?.status;
    const due = async () => (await coffer.secrets.list(ctx, { rotation: "due" })).items.map((s) => `${s.name}:${s.rotation?.status}`);
    await coffer.secrets.create(ctx, { name: "no-interval", data: { v: "1" } });
    assert.equal((await coffer.secrets.get(ctx, "no-interval")).rotation, undefined, "no interval, no rotation");

    assert.equal(await status(), "ok");
    clock.advance(23 * DAY_MS - HOUR_MS);
    assert.equal(await status(), "ok", "the reminder window is the last 7 days");
    assert.deepEqual(await due(), []);
    clock.advance(HOUR_MS);
    assert.equal(await status(), "due");
    assert.deepEqual(await due(), ["db:due"]);
    clock.advance(7 * DAY_MS);
    assert.equal(await status(), "overdue");
    assert.deepEqual(await due(), ["db:overdue"]);
    const listed = (await coffer.secrets.list(ctx, {})).items.find((s) => s.name === "db");
    assert.equal(listed?.rotation?.status, "overdue", "plain lists carry the status too");

    // A label edit is not a rotation; a new value is.
    await coffer.secrets.patch(ctx, "db", undefined, { label: "renamed" });
    assert.equal(await status(), "overdue");
    await coffer.secrets.patch(ctx, "db", { password: "p2" }, {});
    const rotated = await coffer.secrets.get(ctx, "db");
    assert.equal(rotated.rotation?.status, "ok");
    assert.equal(rotated.rotation?.rotatedAt, rotated.updatedAt);
    clock.advance(30 * DAY_MS);
    await coffer.secrets.rollback(ctx, "db", 1);
    assert.equal(await status(), "ok", "a rollback writes the value anew");

    // Short intervals are due after half of it.
    await coffer.secrets.create(ctx, { name: "short", data: { v: "1" }, rotationIntervalDays: 2 });
    clock.advance(DAY_MS);
    assert.equal(await status("short"), "due");
    // The interval is cleared with null, and checked.
    assert.equal((await coffer.secrets.patch(ctx, "short", undefined, { rotationIntervalDays: null })).rotation, undefined);
    await rejects(coffer.secrets.patch(ctx, "short", undefined, { rotationIntervalDays: 0 }), "INVALID_REQUEST");
    await rejects(coffer.secrets.create(ctx, { name: "frac", data: { v: "1" }, rotationIntervalDays: 1.5 }), "INVALID_REQUEST");
  });

  each("workspace defaults apply per label and reach cached reads; a secret's own interval wins; bad defaults change nothing", async (t, target) => {
    const clock = simulatedClock();
    const { coffer, ctx, principal } = await node(t, target, clock.now);
    await coffer.secrets.create(ctx, { name: "prod-db", label: "production", data: { v: "1" } });
    await coffer.secrets.create(ctx, { name: "dev-db", label: "development", data: { v: "1" } });
    await coffer.secrets.create(ctx, { name: "own", label: "production", data: { v: "1" }, rotationIntervalDays: 10 });
    // Read once so the current version is cached: the defaults must still reach it.
    assert.equal((await coffer.secrets.get(ctx, "prod-db")).rotation, undefined);

    const set = await coffer.rotation.setDefaults(principal, "default", [
      { label: "production", intervalDays: 90 },
      { label: "development", intervalDays: 30 },
    ]);
    assert.deepEqual(set.defaults, [{ label: "development", intervalDays: 30 }, { label: "production", intervalDays: 90 }]);
    assert.equal(set.graceDays, 7);
    const interval = async (name: string) => (await coffer.secrets.get(ctx, name)).rotation?.intervalDays;
    assert.equal(await interval("prod-db"), 90);
    assert.equal(await interval("dev-db"), 30);
    assert.equal(await interval("own"), 10);
    // A write's own answer shows the schedule that applies after it, its new label's default included.
    assert.equal((await coffer.secrets.patch(ctx, "prod-db", { v: "2" }, {})).rotation?.intervalDays, 90);
    assert.equal((await coffer.secrets.replace(ctx, "prod-db", { v: "3" }, { label: "development" })).secret.rotation?.intervalDays, 30);
    assert.equal((await coffer.secrets.replace(ctx, "prod-db", { v: "4" }, { label: "production" })).secret.rotation?.intervalDays, 90);
    await coffer.secrets.patch(ctx, "own", undefined, { rotationIntervalDays: null });
    assert.equal(await interval("own"), 90, "cleared: the label's default applies again");
    clock.advance(24 * DAY_MS);
    assert.deepEqual((await coffer.secrets.list(ctx, { rotation: "due" })).items.map((s) => s.name), ["dev-db"]);

    await rejects(coffer.rotation.setDefaults(principal, "default", [{ label: "x", intervalDays: 0 }]), "INVALID_REQUEST");
    await rejects(coffer.rotation.setDefaults(principal, "default", [{ label: "x", intervalDays: 1 }, { label: "x", intervalDays: 2 }]), "INVALID_REQUEST");
    assert.equal((await coffer.rotation.defaults(principal, "default")).defaults.length, 2, "refused changes change nothing");
  });
  each("reminders go out once per secret, version and kind; personal secrets send none", async (t, target) => {
    const clock = simulatedClock();
    const first = await node(t, target, clock.now);
    const { coffer, ctx, principal } = first;
    await coffer.secrets.create(ctx, { name: "api", data: { v: "1" }, rotationIntervalDays: 30 });
    await coffer.secrets.create(ctx, { name: "quiet", data: { v: "1" } });
    const personal = await coffer.secrets.context(principal, "default", "personal");
    await coffer.secrets.create(personal, { name: "mine", data: { v: "1" }, rotationIntervalDays: 30 });
    const sent = (events: RotationEvent[]) => events.map((e) => `${e.type} ${e.secretName} v${e.version}`);

    assert.deepEqual(await coffer.rotationJob.run(), { reminded: 0, rotated: 0 });
    clock.advance(23 * DAY_MS);
    assert.deepEqual(await coffer.rotationJob.run(), { reminded: 1, rotated: 0 });
    assert.deepEqual(await coffer.rotationJob.run(), { reminded: 0, rotated: 0 }, "not twice");
    const [reminder] = first.events;
    assert.equal(reminder?.dueAt, (await coffer.secrets.get(ctx, "api")).rotation?.dueAt);
    assert.equal(reminder?.workspaceId, ctx.access.workspace.id);
    clock.advance(7 * DAY_MS);
    await coffer.rotationJob.run();
    await coffer.rotationJob.run();
    assert.deepEqual(sent(first.events), ["rotation.due api v1", "rotation.overdue api v1"]);
    assert.equal((await coffer.secrets.list(personal, { rotation: "due" })).items[0]?.rotation?.status, "overdue", "personal secrets show their status to their owner");

    // A new value starts over: its version gets its own reminders.
    await coffer.secrets.replace(ctx, "api", { v: "2" }, {});
    clock.advance(23 * DAY_MS);
    await coffer.rotationJob.run();
    assert.deepEqual(sent(first.events).slice(2), ["rotation.due api v2"]);

    if (target.kind !== "postgres") return;
    // A second node on the same database: the job runs on one node at a time, and the store remembers what was sent.
    const second = await node(t, target, clock.now, first.token);
    for (let i = 0; i < 6; i++) await coffer.secrets.create(ctx, { name: `batch-${i}`, data: { v: "1" }, rotationIntervalDays: 2 });
    clock.advance(DAY_MS);
    const held = await coffer.store.dialect.tryJobLock(coffer.store.db, JOB_LOCKS.rotation, () => second.coffer.rotationJob.run());
    assert.equal(held, undefined, "while one node holds the job lock, another skips its pass");
    const before = first.events.length;
    await Promise.all([coffer.rotationJob.run(), second.coffer.rotationJob.run(), coffer.rotationJob.run(), second.coffer.rotationJob.run()]);
    await Promise.all([coffer.rotationJob.run(), second.coffer.rotationJob.run()]);
    await coffer.rotationJob.run();
    await second.coffer.rotationJob.run();
    const batch = [...first.events.slice(before), ...second.events].map((e) => `${e.type} ${e.secretName}`).sort();
    assert.deepEqual(batch, [0, 1, 2, 3, 4, 5].map((i) => `rotation.due batch-${i}`), "each reminder once, across both nodes");

    // A default set on one node reaches the other's cached reads.
    await coffer.secrets.create(ctx, { name: "labelled", label: "ops", data: { v: "1" } });
    assert.equal((await second.coffer.secrets.get(second.ctx, "labelled")).rotation, undefined);
    await coffer.rotation.setDefaults(principal, "default", [{ label: "ops", intervalDays: 5 }]);
    let seen: number | undefined;
    for (let i = 0; i < 100 && seen === undefined; i++) {
      seen = (await second.coffer.secrets.get(second.ctx, "labelled")).rotation?.intervalDays;
      if (seen === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(seen, 5);
  });

  each("self-rotation writes a generated version; the previous one stays readable and verifies during the grace period, then not", async (t, target) => {
    const clock = simulatedClock();
    const { coffer, principal, events } = await node(t, target, clock.now);
    // Retention keeps one version: the grace period must keep the previous one all the same.
    await coffer.workspaces.updateSettings(principal, "default", { maxVersions: 1 });
    const ctx = await coffer.secrets.context(principal, "default");
    await rejects(coffer.secrets.create(ctx, { name: "pw", data: { v: "1" }, autoRotate: true }), "INVALID_SECRET_TYPE");
    await coffer.secrets.create(ctx, { name: "pw", data: { v: "1" } });
    await rejects(coffer.secrets.patch(ctx, "pw", undefined, { autoRotate: true }), "INVALID_SECRET_TYPE");

    const signer = await coffer.secrets.create(ctx, { name: "signer", type: "HMAC", rotationIntervalDays: 10, autoRotate: true });
    assert.equal(signer.autoRotate, true);
    const key1 = signer.data.value!;
    const sig1 = (await coffer.hmac.sign(ctx, "signer", "payload")).signature;
    assert.equal(sig1, `v1:${createHmac("sha256", key1).update("payload").digest("base64url")}`);
    const apiKey = await coffer.secrets.create(ctx, { name: "api-key", type: "INTERNAL_API_KEY", rotationIntervalDays: 10 });
    await coffer.secrets.patch(ctx, "api-key", undefined, { autoRotate: true });

    clock.advance(5 * DAY_MS);
    assert.deepEqual(await coffer.rotationJob.run(), { reminded: 2, rotated: 0 }, "self-rotating secrets are announced before their due date");
    clock.advance(5 * DAY_MS);
    assert.deepEqual(await coffer.rotationJob.run(), { reminded: 0, rotated: 2 });
    assert.deepEqual(
      events.filter((e) => e.type === "secret.rotated").map((e) => `${e.secretName} v${e.version}`).sort(),
      ["api-key v2", "signer v2"],
    );
    const now = await coffer.secrets.get(ctx, "signer");
    assert.equal(now.version, 2);
    assert.notEqual(now.data.value, key1);
    assert.equal(now.rotation?.status, "ok");
    assert.equal(events.at(-1)?.dueAt !== undefined, true);
    assert.notEqual((await coffer.secrets.get(ctx, "api-key")).data.value, apiKey.data.value);
    assert.match((await coffer.secrets.get(ctx, "api-key")).data.value!, /^cfk_/);
    assert.equal((await coffer.secrets.versions(ctx, "signer"))[0]?.createdBy, "system:rotation");
    assert.deepEqual(await coffer.rotationJob.run(), { reminded: 0, rotated: 0 }, "rotated once");

    // During the grace period: v1 reads back and its signatures verify; new ones are v2.
    assert.equal((await coffer.secrets.get(ctx, "signer", 1)).data.value, key1);
    assert.deepEqual(await coffer.hmac.verify(ctx, "signer", "payload", sig1), { valid: true, version: 1 });
    const sig2 = (await coffer.hmac.sign(ctx, "signer", "payload")).signature;
    assert.match(sig2, /^v2:/);
    assert.deepEqual(await coffer.hmac.verify(ctx, "signer", "payload", sig2), { valid: true, version: 2 });
    // A new value inside the grace period keeps v1 as well: it was superseded less than 7 days ago.
    clock.advance(DAY_MS);
    await coffer.secrets.replace(ctx, "signer", { value: "a-typed-hmac-key" }, {});
    assert.equal((await coffer.secrets.get(ctx, "signer", 1)).data.value, key1);
    assert.deepEqual(await coffer.hmac.verify(ctx, "signer", "payload", sig1), { valid: true, version: 1 });
    assert.equal((await coffer.hmac.sign(ctx, "signer", "m")).signature, `v3:${createHmac("sha256", "a-typed-hmac-key").update("m").digest("base64url")}`);

    // Day 17: v1 was superseded 7 days ago, v2 six.
    clock.advance(6 * DAY_MS + HOUR_MS);
    assert.deepEqual(await coffer.hmac.verify(ctx, "signer", "payload", sig1), { valid: false, version: 1 }, "after the grace period");
    assert.deepEqual(await coffer.hmac.verify(ctx, "signer", "payload", sig2), { valid: true, version: 2 });
    // Past its grace period a version goes at the next write, as retention says; v2 is still kept.
    await coffer.secrets.replace(ctx, "signer", { value: "another-key" }, {});
    await rejects(coffer.secrets.get(ctx, "signer", 1), "VERSION_NOT_FOUND");
    assert.equal((await coffer.secrets.get(ctx, "signer", 2)).data.value, now.data.value);
    assert.deepEqual(await coffer.hmac.verify(ctx, "signer", "payload", sig1), { valid: false, version: 1 });
  });
}
