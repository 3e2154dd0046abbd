/**
 * Alerts and webhooks against a real local HTTP receiver: signed deliveries,
 * retries with backoff, giving up, a dead endpoint that never slows a
 * request, thresholds for failed logins and token use, access denied.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { openCoffer, type Coffer } from "../src/coffer.ts";
import { verifySignature } from "../src/crypto/webhook-signature.ts";
import { buildApp } from "../src/http/app.ts";
import { STORES, type StoreKind } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

const VALUE = "alert-test-VALUE-42";

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}

/** A receiver that answers each request with the next status in `statuses` (then 200). */
async function receiver(t: TestContext, statuses: number[] = []) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      response.writeHead(statuses.shift() ?? 200).end();
      waiters.splice(0).forEach((wake) => wake());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/coffer`;
  const until = async (ok: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!ok()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; received ${received.length}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return { url, received, until };
}

async function openEnv(t: TestContext, store: StoreKind, clock?: () => number, retryBaseMs = 50): Promise<{ coffer: Coffer; call: (method: string, url: string, body?: unknown, token?: string) => Promise<{ status: number; body: any }> } | null> {
  const target = await store.open(t);
  if (!target) return null;
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, webhooks: { retryBaseMs, maxAttempts: 3, timeoutMs: 1_000 }, clock, rotationJobEveryMs: 0 });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  return {
    coffer,
    call: async (method, url, body, token = coffer.bootstrapToken!) => {
      const reply = await app.inject({ method: method as "GET", url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: reply.statusCode, body: reply.body ? reply.json() : undefined };
    },
  };
}

const WS = "/api/v1/workspaces/default";

for (const store of STORES) {
  test(`secret changes reach a webhook signed, after retries; deliveries are recorded (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    const hook = await receiver(t, [500, 503]);
    const created = await env.call("POST", `${WS}/webhooks`, { url: hook.url, events: ["secret.created", "secret.updated"] });
    assert.equal(created.status, 201);
    const signingKey = created.body.signingKey as string;
    assert.match(signingKey, /^whsec_/);
    assert.equal((await env.call("GET", `${WS}/webhooks`)).body.webhooks[0].signingKey, undefined, "never shown again");

    await env.call("POST", `${WS}/secrets`, { name: "stripe", data: { key: VALUE } });
    await hook.until(() => hook.received.length >= 3, "two failures and a success");
    const delivered = hook.received[2]!;
    const event = JSON.parse(delivered.body);
    assert.equal(event.type, "secret.created");
    assert.match(event.message, /admin created secret 'stripe'/);
    assert.equal(delivered.headers["coffer-event"], "secret.created");
    const signature = String(delivered.headers["coffer-signature"]);
    assert.ok(verifySignature(signingKey, signature, delivered.body, Math.floor(Date.now() / 1000)), "signed with the webhook's key");
    assert.ok(!verifySignature("whsec_wrong", signature, delivered.body, Math.floor(Date.now() / 1000)));
    assert.ok(!verifySignature(signingKey, signature, delivered.body.replace("stripe", "strip3"), Math.floor(Date.now() / 1000)), "a changed body fails");
    assert.ok(hook.received.every((r) => !r.body.includes(VALUE)), "no value in a delivery");

    // The receiver answered before the delivery was recorded: wait for the record.
    let deliveries: any[] = [];
    for (let i = 0; i < 100 && deliveries[0]?.state !== "delivered"; i++) {
      deliveries = (await env.call("GET", `${WS}/webhooks/${created.body.webhook.id}/deliveries`)).body.deliveries;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(deliveries.length, 1);
    assert.deepEqual([deliveries[0].state, deliveries[0].attempts, deliveries[0].lastStatus], ["delivered", 3, 200]);

    // Not subscribed: a delete raises an alert, but this webhook does not hear it.
    await env.call("DELETE", `${WS}/secrets/stripe`);
    await env.coffer.audit.drain();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const alerts = (await env.call("GET", `${WS}/alerts`)).body.alerts;
    assert.ok(alerts.some((a: any) => a.type === "secret.deleted"), "admins see every alert");
    assert.equal(hook.received.filter((r) => JSON.parse(r.body).type === "secret.deleted").length, 0);
  });

  test(`a retry is made when due by the clock, though its timer fires sooner: the clock stepped back (${store.kind})`, async (t) => {
    let ahead = 2_000;
    const env = await openEnv(t, store, () => Date.now() + ahead, 1_000);
    if (!env) return;
    const hook = await receiver(t, [500]);
    const created = await env.call("POST", `${WS}/webhooks`, { url: hook.url, events: ["secret.created"] });
    await env.call("POST", `${WS}/secrets`, { name: "stepped", data: { key: VALUE } });
    const deliveries = async () => (await env.call("GET", `${WS}/webhooks/${created.body.webhook.id}/deliveries`)).body.deliveries as any[];
    await hook.until(() => hook.received.length >= 1, "the first attempt");
    for (let i = 0; i < 100 && (await deliveries())[0]?.attempts !== 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    // The retry is due 1 s after the failure by a clock 2 s ahead; set right, its 1 s timer fires 2 s before that.
    ahead = 0;
    await hook.until(() => hook.received.length >= 2, "the retry, not left to the 30-second sweep");
    assert.equal(hook.received[1]!.headers["coffer-event"], "secret.created");
  });

  test(`a dead endpoint never slows a request; its delivery is given up after the last retry (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    const created = await env.call("POST", `${WS}/webhooks`, { url: "http://127.0.0.1:9/dead", events: ["*"] });
    const started = performance.now();
    for (let i = 0; i < 5; i++) assert.equal((await env.call("POST", `${WS}/secrets`, { name: `s${i}`, data: { k: VALUE } })).status, 201);
    assert.ok(performance.now() - started < 5_000);
    const deadline = Date.now() + 10_000;
    let deliveries: any[] = [];
    while (Date.now() < deadline) {
      deliveries = (await env.call("GET", `${WS}/webhooks/${created.body.webhook.id}/deliveries`)).body.deliveries;
      if (deliveries.length === 5 && deliveries.every((d) => d.state === "failed")) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(deliveries.length, 5);
    for (const d of deliveries) assert.deepEqual([d.state, d.attempts, d.lastStatus], ["failed", 3, null], JSON.stringify(d));
    assert.match(deliveries[0].lastError, /connection failed/);
  });

  test(`failed logins past the threshold, failed token use and access denied become alerts (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    const hook = await receiver(t);
    await env.call("POST", `${WS}/webhooks`, { url: hook.url, events: ["auth.failures", "access.denied"] });
    assert.equal((await env.call("POST", "/api/v1/users", { username: "carol", password: "carol-password-1" })).status, 201);
    assert.equal((await env.call("PUT", `${WS}/members/carol`, { role: "member" })).status, 200);
    await env.call("POST", `${WS}/secrets`, { name: "private", data: { k: VALUE } });

    // Carol logs in first: five failures lock the name (the login throttle), which is the point of the alert.
    const login = await env.call("POST", "/api/v1/auth/login", { username: "carol", password: "carol-password-1" }, "");
    const carol = login.body.token as string;
    for (let i = 0; i < 5; i++) assert.equal((await env.call("POST", "/api/v1/auth/login", { username: "carol", password: `wrong-${i}` }, "")).status, 401);
    for (let i = 0; i < 5; i++) await env.call("GET", `${WS}/secrets/private`, undefined, "cft_forged");
    // Failed logins for a name nobody has: no workspace to tell, so instance administrators only.
    // (The login throttle answers 429 by now for this address: refused logins all the same.)
    for (let i = 0; i < 5; i++) assert.ok([401, 429].includes((await env.call("POST", "/api/v1/auth/login", { username: "mallory", password: `guess-${i}` }, "")).status));
    assert.equal((await env.call("GET", `${WS}/members`, undefined, carol)).status, 403);
    assert.equal((await env.call("GET", `${WS}/members`, undefined, carol)).status, 403, "twice within a minute: one alert");

    const types = () => hook.received.map((r) => JSON.parse(r.body));
    await hook.until(() => types().some((a) => a.type === "access.denied") && types().filter((a) => a.type === "auth.failures").length >= 2, "login, token and access-denied alerts");
    const loginAlert = types().find((a) => a.type === "auth.failures" && a.details.kind === "login");
    assert.ok(loginAlert, JSON.stringify(types()));
    assert.match(loginAlert.message, /5 failed logins for 'carol'/);
    // The forged token was used on this workspace's path: its admins hear of it.
    const tokenAlert = types().find((a) => a.type === "auth.failures" && a.details.kind === "token");
    assert.match(tokenAlert.message, /5 requests with a bad, expired or revoked token from 127\.0\.0\.1/);
    await env.coffer.audit.drain();
    await env.coffer.alerts.settled();
    const denied = types().filter((a) => a.type === "access.denied");
    assert.equal(denied.length, 1);
    assert.match(denied[0].message, /carol was refused member\.list/);
    assert.ok(!types().some((a) => JSON.stringify(a).includes("mallory")), "another name's failures stay with instance admins");

    const all = (await env.call("GET", "/api/v1/alerts")).body.alerts;
    assert.ok(all.some((a: any) => a.type === "auth.failures" && a.workspaceId === null && a.details.username === "mallory"), JSON.stringify(all));
    const workspaceView = (await env.call("GET", `${WS}/alerts`)).body.alerts;
    assert.ok(workspaceView.every((a: any) => a.workspaceId !== null || a.type === "key.rotated"));
    assert.equal((await env.call("GET", "/api/v1/alerts", undefined, carol)).status, 403);
    assert.equal((await env.call("GET", `${WS}/alerts`, undefined, carol)).status, 403);
  });

  test(`webhook input is checked and changes nothing when wrong (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    for (const [body, message] of [
      [{ url: "ftp://example.org/x", events: ["*"] }, /http or https/],
      [{ url: "not a url", events: ["*"] }, /absolute http or https URL/],
      [{ url: "https://user:pw@example.org/x", events: ["*"] }, /username or password/],
      [{ url: "https://example.org/x", events: ["secret.exploded"] }, /unknown event 'secret.exploded'/],
    ] as const) {
      const reply = await env.call("POST", `${WS}/webhooks`, body);
      assert.equal(reply.status, 400);
      assert.match(reply.body.error.message, message);
    }
    assert.deepEqual((await env.call("GET", `${WS}/webhooks`)).body.webhooks, []);
    assert.equal((await env.call("DELETE", `${WS}/webhooks/whk_nope`)).status, 404);
  });

  test(`retention removes alerts and finished webhook deliveries older than the cut, and nothing newer or pending (${store.kind})`, async (t) => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const env = await openEnv(t, store, () => now);
    if (!env) return;
    const hook = await receiver(t);
    const created = await env.call("POST", `${WS}/webhooks`, { url: hook.url, events: ["secret.created"] });
    const webhookId = created.body.webhook.id as string;
    const deliveries = async () => (await env.call("GET", `${WS}/webhooks/${webhookId}/deliveries`)).body.deliveries as { state: string; createdAt: string }[];
    const makeAlerts = async (prefix: string, count: number) => {
      for (let i = 0; i < count; i++) assert.equal((await env.call("POST", `${WS}/secrets`, { name: `${prefix}-${i}`, data: { k: VALUE } })).status, 201);
      await env.coffer.audit.drain();
      await env.coffer.alerts.settled();
    };
    await makeAlerts("old", 3);
    now += 10 * 86_400_000;
    await makeAlerts("new", 2);
    await hook.until(() => hook.received.length >= 5, "every delivery");
    for (let i = 0; i < 100 && !(await deliveries()).every((d) => d.state === "delivered"); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    // A delivery still pending is kept however old: it has an attempt to come.
    await env.coffer.store.db
      .insertInto("webhookDeliveries")
      .values({ id: "dlv_pending", webhookId, alertId: "alr_gone", state: "pending", attempts: 1, lastStatus: 500, lastError: null, nextAttemptAt: now + 86_400_000, createdAt: now - 20 * 86_400_000, updatedAt: now })
      .execute();

    assert.deepEqual(await env.coffer.alerts.prune(now - 86_400_000), { alerts: 3, deliveries: 3 });
    const alerts = (await env.call("GET", `${WS}/alerts`)).body.alerts as { message: string }[];
    assert.deepEqual(alerts.map((alert) => alert.message).sort(), ["admin created secret 'new-0'", "admin created secret 'new-1'"]);
    const left = await deliveries();
    assert.deepEqual(left.map((d) => d.state).sort(), ["delivered", "delivered", "pending"]);
    assert.deepEqual(await env.coffer.alerts.prune(now - 86_400_000), { alerts: 0, deliveries: 0 }, "nothing more to remove");
  });

  test(`rotation reminders reach webhooks; a self-rotation is audited as the system's (${store.kind})`, async (t) => {
    let now = Date.now();
    const env = await openEnv(t, store, () => now);
    if (!env) return;
    const hook = await receiver(t);
    await env.call("POST", `${WS}/webhooks`, { url: hook.url, events: ["rotation.due", "rotation.overdue", "secret.updated"] });
    assert.equal((await env.call("POST", `${WS}/secrets`, { name: "signer", type: "HMAC", rotationIntervalDays: 30, autoRotate: true })).status, 201);
    now += 25 * 86_400_000;
    await env.coffer.rotationJob.run();
    await hook.until(() => hook.received.some((r) => JSON.parse(r.body).type === "rotation.due"), "the due reminder");
    const due = hook.received.map((r) => JSON.parse(r.body)).find((a) => a.type === "rotation.due");
    assert.match(due.message, /secret 'signer' is due for rotation by \d{4}-\d{2}-\d{2}/);

    now += 6 * 86_400_000;
    await env.coffer.rotationJob.run();
    await env.coffer.audit.drain();
    const { events } = await env.coffer.audit.query({ action: "secret.auto-rotate" }, {});
    assert.equal(events.length, 1);
    assert.deepEqual([events[0]!.actorKind, events[0]!.secretName, events[0]!.outcome], ["system", "signer", "ok"]);
    await hook.until(() => hook.received.some((r) => JSON.parse(r.body).type === "secret.updated"), "the self-rotation");
    assert.equal((await env.coffer.audit.verify()).ok, true);
  });
}
