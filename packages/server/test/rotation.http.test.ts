/**
 * HMAC use without reveal and the rotation routes, through HTTP: a token
 * scoped to `use` signs and verifies but never reads the key; other types
 * answer INVALID_SECRET_TYPE; bad input changes nothing.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test, type TestContext } from "node:test";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { tempDir } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

type Api = (method: string, url: string, body?: unknown) => Promise<{ status: number; body: any; text: string }>;

async function server(t: TestContext) {
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: tempDir(), rotationJobEveryMs: 0 });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const as =
    (token: string): Api =>
    async (method, url, body) => {
      const reply = await app.inject({ method: method as "GET", url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: reply.statusCode, body: reply.body ? reply.json() : undefined, text: reply.body };
    };
  return { admin: as(coffer.bootstrapToken!), as };
}

const S = "/api/v1/workspaces/default/secrets";

test("HMAC: a use-only token signs and verifies but is denied the key; other types answer INVALID_SECRET_TYPE", async (t) => {
  const { admin, as } = await server(t);
  const created = await admin("POST", S, { name: "webhooks/signing", type: "HMAC" });
  assert.equal(created.status, 201);
  const key: string = created.body.data.value;
  assert.equal((await admin("POST", S, { name: "plain", data: { v: "x" } })).status, 201);
  const minted = await admin("POST", "/api/v1/auth/tokens", { name: "signer", access: "use" });
  assert.equal(minted.status, 201, minted.text);
  const user = as(minted.body.token);
  const path = `${S}/${encodeURIComponent("webhooks/signing")}`;

  const read = await user("GET", path);
  assert.equal(read.status, 403);
  assert.equal(read.body.error.code, "ACCESS_DENIED");
  assert.equal((await user("GET", `${path}?version=1`)).status, 403);

  const signed = await user("POST", `${path}/hmac`, { message: "hello" });
  assert.equal(signed.status, 200, signed.text);
  assert.equal(signed.body.signature, `v1:${createHmac("sha256", key).update("hello").digest("base64url")}`);
  assert.equal(signed.body.version, 1);
  assert.ok(!signed.text.includes(key), "the key never leaves");

  const bytes = Buffer.from([0, 1, 2, 255]);
  const binary = await user("POST", `${path}/hmac`, { message: bytes.toString("base64"), encoding: "base64" });
  assert.equal(binary.body.signature, `v1:${createHmac("sha256", key).update(bytes).digest("base64url")}`);

  const verify = (body: object) => user("POST", `${path}/verify`, body);
  assert.deepEqual((await verify({ message: "hello", signature: signed.body.signature })).body, { valid: true, version: 1 });
  assert.deepEqual((await verify({ message: "hellO", signature: signed.body.signature })).body, { valid: false, version: 1 });
  const flipped = signed.body.signature.slice(0, -2) + (signed.body.signature.endsWith("AA") ? "BA" : "AA");
  assert.equal((await verify({ message: "hello", signature: flipped })).body.valid, false);
  assert.deepEqual((await verify({ message: "hello", signature: signed.body.signature.replace("v1:", "v9:") })).body, { valid: false, version: 9 });
  assert.deepEqual((await verify({ message: bytes.toString("base64"), encoding: "base64", signature: binary.body.signature })).body, { valid: true, version: 1 });

  for (const [body, code] of [
    [{ message: "hello", signature: "not-a-signature" }, "INVALID_REQUEST"],
    [{ message: "hello", signature: "v1:short" }, "INVALID_REQUEST"],
    [{ message: "%%%", encoding: "base64", signature: signed.body.signature }, "INVALID_REQUEST"],
    [{ message: "hello", signature: signed.body.signature, extra: 1 }, "INVALID_REQUEST"],
  ] as const) {
    const refused = await verify(body);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, code);
  }
  assert.equal((await user("POST", `${path}/hmac`, {})).status, 400, "message is required");

  const wrongType = await admin("POST", `${S}/plain/hmac`, { message: "hello" });
  assert.equal(wrongType.status, 400);
  assert.equal(wrongType.body.error.code, "INVALID_SECRET_TYPE");
  assert.equal((await admin("POST", `${S}/plain/verify`, { message: "hello", signature: signed.body.signature })).body.error.code, "INVALID_SECRET_TYPE");
  assert.equal((await admin("POST", `${S}/missing/hmac`, { message: "hello" })).body.error.code, "SECRET_NOT_FOUND");

  // A token below use (see) is refused before anything is signed.
  const seeOnly = as((await admin("POST", "/api/v1/auth/tokens", { name: "see", access: "see" })).body.token);
  assert.equal((await seeOnly("POST", `${path}/hmac`, { message: "hello" })).body.error.code, "ACCESS_DENIED");
});

test("rotation over HTTP: defaults, intervals on create/patch, the due filter, bad input changes nothing", async (t) => {
  const { admin } = await server(t);
  const put = await admin("PUT", "/api/v1/workspaces/default/rotation-defaults", { defaults: [{ label: "production", intervalDays: 90 }] });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body, { defaults: [{ label: "production", intervalDays: 90 }], graceDays: 7 });
  assert.deepEqual((await admin("GET", "/api/v1/workspaces/default/rotation-defaults")).body, put.body);
  for (const defaults of [[{ label: "production", intervalDays: 0 }], [{ label: "", intervalDays: 3 }], [{ label: "x" }]]) {
    assert.equal((await admin("PUT", "/api/v1/workspaces/default/rotation-defaults", { defaults })).status, 400);
  }
  assert.deepEqual((await admin("GET", "/api/v1/workspaces/default/rotation-defaults")).body, put.body);

  const prod = await admin("POST", S, { name: "prod-db", label: "production", data: { v: "1" } });
  assert.equal(prod.body.rotation.intervalDays, 90);
  assert.equal(prod.body.rotation.status, "ok");
  assert.equal(prod.body.autoRotate, false);
  const own = await admin("PUT", `${S}/own`, { data: { v: "1" }, rotationIntervalDays: 5 });
  assert.equal(own.body.rotation.intervalDays, 5);
  const patched = await admin("PATCH", `${S}/own`, { rotationIntervalDays: null });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.rotation, undefined);
  assert.equal(patched.body.version, 1, "a settings change is not a new version");

  for (const body of [{ rotationIntervalDays: 0 }, { rotationIntervalDays: "5" }, { autoRotate: "yes" }]) {
    assert.equal((await admin("PATCH", `${S}/own`, body)).status, 400);
  }
  const auto = await admin("PATCH", `${S}/own`, { autoRotate: true });
  assert.equal(auto.body.error.code, "INVALID_SECRET_TYPE");
  const generated = await admin("POST", S, { name: "gen", type: "INTERNAL_API_KEY", autoRotate: true, rotationIntervalDays: 30 });
  assert.equal(generated.body.autoRotate, true);

  assert.deepEqual((await admin("GET", `${S}?rotation=due`)).body.items, []);
  assert.equal((await admin("GET", `${S}?rotation=overdue`)).status, 400);
});

test("HMAC: a deleted key version neither signs nor verifies; undeleted, it does again", async (t) => {
  const { admin } = await server(t);
  await admin("POST", S, { name: "leaky", type: "HMAC" });
  const signed = await admin("POST", `${S}/leaky/hmac`, { message: "m" });
  assert.equal(signed.status, 200);
  assert.equal((await admin("POST", `${S}/leaky/versions/delete`, {})).status, 200);
  const refused = await admin("POST", `${S}/leaky/hmac`, { message: "m" });
  assert.deepEqual([refused.status, refused.body.error.code], [404, "VERSION_NOT_FOUND"]);
  const verified = await admin("POST", `${S}/leaky/verify`, { message: "m", signature: signed.body.signature });
  assert.deepEqual([verified.status, verified.body.valid], [200, false], "a retired key's signatures stop verifying");
  assert.equal((await admin("POST", `${S}/leaky/versions/undelete`, { versions: [1] })).status, 200);
  assert.equal((await admin("POST", `${S}/leaky/verify`, { message: "m", signature: signed.body.signature })).body.valid, true);
});
