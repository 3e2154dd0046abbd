/**
 * Expiry and unused secrets over a test clock, on each store: the value is
 * served until the millisecond before expiresAt and answers SECRET_EXPIRED
 * 410 from it on (natively, in a batch, and in the Vault adapter's shape),
 * the warning goes out once, N days before; last uses are recorded in
 * batches and unused secrets are alerted once per idle stretch and listed,
 * by the API and by the real CLI against this server on a real port.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { DAY_MS } from "../src/core/clock.ts";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { COFFER_BIN } from "./support/server.ts";
import { STORES } from "./support/stores.ts";
import { startUpstream } from "./support/upstream.ts";
import { waitFor } from "./support/cluster.ts";

const WS = "/api/v1/workspaces/default";
const S = `${WS}/secrets`;

function cli(args: string[], addr: string, token: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("COFFER_") && value !== undefined) env[key] = value;
    const child = spawn(process.execPath, [COFFER_BIN, ...args], { env: { ...env, COFFER_ADDR: addr, COFFER_TOKEN: token, COFFER_CONFIG_DIR: "/nonexistent-coffer-config" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

for (const store of STORES) {
  test(`expiry at the boundary, its warning once, and unused secrets alerted and listed (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const T0 = Math.floor(Date.now() / 1000) * 1000;
    let now = T0;
    const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, clock: () => now, rotationJobEveryMs: 0, lifecycleJobEveryMs: 0, webhooks: { retryBaseMs: 50, maxAttempts: 3, timeoutMs: 1_000 } });
    t.after(() => coffer.close());
    const app = await buildApp(coffer);
    t.after(() => app.close());
    await app.listen({ port: 0, host: "127.0.0.1" });
    const addr = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const call = async (method: string, url: string, body?: unknown) => {
      const reply = await app.inject({ method: method as "GET", url, headers: { authorization: `Bearer ${coffer.bootstrapToken}` }, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: reply.statusCode, body: reply.body ? reply.json() : undefined };
    };
    const must = async (method: string, url: string, body: unknown, status: number) => {
      const got = await call(method, url, body);
      assert.equal(got.status, status, `${method} ${url}: ${JSON.stringify(got.body)}`);
      return got.body;
    };
    const receiver = await startUpstream(t, (_request, _body, response) => response.end("{}"));
    await must("POST", `${WS}/webhooks`, { url: `${receiver.url}/hook`, events: ["secret.expiring", "secret.unused"] }, 201);

    // ---- Settings: by default the warning goes out 7 days ahead and nothing is reported unused; here 3 days.
    const defaults = await must("GET", WS, undefined, 200);
    assert.equal(defaults.expiryWarningDays, 7);
    assert.equal(defaults.unusedAlertDays, null);
    assert.equal((await must("PATCH", WS, { expiryWarningDays: 3 }, 200)).expiryWarningDays, 3);
    assert.equal((await call("PATCH", WS, { unusedAlertDays: 0 })).status, 400);

    // ---- Expiry.
    const expiresAt = T0 + 5 * DAY_MS;
    const created = await must("POST", S, { name: "api/key", data: { value: "v1" }, expiresAt: new Date(expiresAt).toISOString() }, 201);
    assert.equal(created.expiresAt, new Date(expiresAt).toISOString());
    const past = await call("POST", S, { name: "born-dead", data: { value: "x" }, expiresAt: new Date(T0 - 1).toISOString() });
    assert.equal(past.status, 400);
    assert.match(past.body.error.message, /expiresAt must lie in the future/);
    assert.equal((await call("POST", S, { name: "bad-date", data: { value: "x" }, expiresAt: "tomorrow" })).status, 400);
    await must("POST", S, { name: "idle/one", data: { value: "i" } }, 201);
    await must("POST", S, { name: "used/two", data: { value: "u" } }, 201);
    await must("POST", S, { name: "decoy", canary: true }, 201);

    assert.deepEqual(await coffer.lifecycleJob.run(), { expiring: 0, unused: 0 }, "5 days ahead is outside the 3-day warning");
    now = expiresAt - 3 * DAY_MS - 1;
    assert.deepEqual(await coffer.lifecycleJob.run(), { expiring: 0, unused: 0 });
    now = expiresAt - 3 * DAY_MS;
    assert.deepEqual(await coffer.lifecycleJob.run(), { expiring: 1, unused: 0 }, "the warning, 3 days before");
    assert.deepEqual(await coffer.lifecycleJob.run(), { expiring: 0, unused: 0 }, "once");

    now = expiresAt - 1;
    assert.equal((await must("GET", `${S}/api%2Fkey`, undefined, 200)).data.value, "v1", "served until the last millisecond");
    now = expiresAt;
    const expired = await call("GET", `${S}/api%2Fkey`);
    assert.equal(expired.status, 410);
    assert.equal(expired.body.error.code, "SECRET_EXPIRED");
    assert.ok(!JSON.stringify(expired.body).includes("v1"));
    assert.equal((await call("POST", `${WS}/secret-reads`, { names: ["used/two", "api/key"] })).body.error.code, "SECRET_EXPIRED", "a batch is all or nothing");
    const vault = await app.inject({ method: "GET", url: "/v1/secret/data/api/key", headers: { "x-vault-token": coffer.bootstrapToken! } });
    assert.equal(vault.statusCode, 410);
    assert.match(vault.json().errors[0], /^secret 'api\/key' expired at /, "the Vault adapter's error shape");
    // What is not the value stays: metadata, lists, a later expiry brings it back.
    assert.equal((await must("GET", `${S}/api%2Fkey/metadata`, undefined, 200)).expiresAt, new Date(expiresAt).toISOString());
    await must("GET", S, undefined, 200);
    const later = now + 30 * DAY_MS;
    await must("PATCH", `${S}/api%2Fkey/metadata`, { expiresAt: new Date(later).toISOString() }, 200);
    assert.equal((await must("GET", `${S}/api%2Fkey`, undefined, 200)).data.value, "v1");
    now = later - 3 * DAY_MS;
    assert.deepEqual(await coffer.lifecycleJob.run(), { expiring: 1, unused: 0 }, "a new expiry gets its own warning");
    await must("PATCH", `${S}/api%2Fkey`, { expiresAt: null }, 200);
    now = later;
    await must("GET", `${S}/api%2Fkey`, undefined, 200);

    // ---- Unused after 10 days: used/two is read now; idle/one never was; the canary is nobody's to use.
    now = T0 + 40 * DAY_MS;
    assert.equal((await must("PATCH", WS, { unusedAlertDays: 10 }, 200)).unusedAlertDays, 10);
    await must("GET", `${S}/used%2Ftwo`, undefined, 200);
    const run = await coffer.lifecycleJob.run();
    // Idle since T0 + 30 days: idle/one (never used); api/key was read at T0 + 35 days, used/two just now.
    const alerts = async (type: string) => (await must("GET", `${WS}/alerts`, undefined, 200)).alerts.filter((alert: { type: string }) => alert.type === type);
    const unusedNames = (await alerts("secret.unused")).map((alert: any) => alert.details.secretName).sort();
    assert.deepEqual(unusedNames, ["idle/one"], JSON.stringify(run));
    assert.equal((await coffer.lifecycleJob.run())!.unused, 0, "once per idle stretch");

    const listed = await must("GET", `${WS}/unused-secrets?days=4`, undefined, 200);
    assert.equal(listed.days, 4);
    assert.deepEqual(listed.secrets.map((s: { name: string }) => s.name), ["api/key", "idle/one"]);
    assert.equal(listed.secrets[0].lastUsedAt, new Date(later).toISOString(), "the last read, to the second");
    assert.equal(listed.secrets[1].lastUsedAt, null);
    assert.equal((await must("GET", `${WS}/unused-secrets`, undefined, 200)).days, 10, "the workspace's setting by default");

    // The real CLI against this server.
    const table = await cli(["secrets", "unused", "--days", "4"], addr, coffer.bootstrapToken!);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+TYPE\s+LAST USED\s+CREATED/m);
    assert.match(table.stdout, /^idle\/one\s+USER_DEFINED\s+never/m);
    assert.match(table.stdout, /^api\/key\s+/m);
    assert.ok(!table.stdout.includes("used/two") && !table.stdout.includes("decoy"));
    const json = await cli(["secrets", "unused", "--json"], addr, coffer.bootstrapToken!);
    assert.deepEqual(JSON.parse(json.stdout).map((s: { name: string }) => s.name), ["idle/one"]);
    const bad = await cli(["secrets", "unused", "--days", "soon"], addr, coffer.bootstrapToken!);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--days takes a whole number/);

    // Used again, then idle for another stretch: alerted again.
    await must("GET", `${S}/idle%2Fone`, undefined, 200);
    now += 11 * DAY_MS;
    await coffer.lifecycleJob.run();
    assert.equal((await alerts("secret.unused")).filter((alert: any) => alert.details.secretName === "idle/one").length, 2);

    await waitFor(async () => receiver.received.filter((got) => got.url === "/hook").length >= 5, "the webhooks");
    const events = receiver.received.filter((got) => got.url === "/hook").map((got) => got.headers["coffer-event"]);
    assert.equal(events.filter((event) => event === "secret.expiring").length, 2);
    assert.ok(events.filter((event) => event === "secret.unused").length >= 3);
  });
}
