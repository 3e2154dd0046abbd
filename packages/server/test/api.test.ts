/**
 * Black-box tests of the REST API against a real `coffer server` process on
 * a free port, once per store.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { client, secretsPath } from "./support/http.ts";
import { startServer } from "./support/server.ts";
import { STORES } from "./support/stores.ts";

const CANARY = "api-canary-value-9f8e7d";

for (const store of STORES) {
  test(`the secret lifecycle works end to end over HTTP (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const server = await startServer(t, target);
    assert.ok(server.token, "the first start prints a bootstrap token");
    const api = client(server.url, server.token);

    const health = await client(server.url, null)("GET", "/api/v1/sys/health");
    assert.equal(health.status, 200);
    assert.deepEqual({ ...health.body, version: undefined }, { status: "ok", ready: true, store: "ok", sealed: false, draining: false, version: undefined });

    const created = await api("POST", secretsPath("default"), { name: "payments/stripe", data: { api_key: CANARY, account: "acct_1" }, label: "Stripe", tags: ["prod"] });
    assert.equal(created.status, 201);
    const id = created.body.id as string;
    assert.match(id, /^sec_/);

    for (const ref of ["payments/stripe", id]) {
      const read = await api("GET", secretsPath("default", ref));
      assert.equal(read.status, 200);
      assert.deepEqual(read.body.data, { api_key: CANARY, account: "acct_1" });
      assert.equal(read.body.version, 1);
      assert.equal(read.body.ageDays, 0);
      assert.ok(read.body.createdAt && read.body.updatedAt);
      assert.equal(read.headers.get("cache-control"), "no-store", "nothing on the way keeps an answer holding a value");
    }

    const list = await api("GET", `${secretsPath("default")}?prefix=payments%2F`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items.map((s: { name: string; keys: string[] }) => [s.name, s.keys]), [["payments/stripe", ["api_key", "account"]]]);
    assert.ok(!JSON.stringify(list.body).includes(CANARY), "a list never carries values");

    assert.equal((await api("PUT", secretsPath("default", id), { data: { api_key: "rotated" }, cas: 1 })).status, 200);
    const conflict = await api("PUT", secretsPath("default", id), { data: { api_key: "late" }, cas: 1 });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, "VERSION_CONFLICT");
    const merged = await api("PATCH", secretsPath("default", id), { data: { region: "eu" } });
    assert.deepEqual(merged.body.data, { api_key: "rotated", region: "eu" });

    const versions = await api("GET", `${secretsPath("default", id)}/versions`);
    assert.deepEqual(versions.body.versions.map((v: { version: number }) => v.version), [3, 2, 1]);
    const v1 = await api("GET", `${secretsPath("default", id)}/versions/1`);
    assert.equal(v1.body.data.api_key, CANARY);
    assert.equal((await api("GET", `${secretsPath("default", id)}?version=2`)).body.data.api_key, "rotated");
    const rolled = await api("POST", `${secretsPath("default", id)}/rollback`, { version: 1 });
    assert.equal(rolled.status, 200);
    assert.equal(rolled.body.version, 4);
    assert.equal(rolled.body.data.api_key, CANARY);

    assert.equal((await api("DELETE", secretsPath("default", id))).status, 204);
    assert.equal((await api("GET", secretsPath("default", id))).status, 404);
    assert.equal((await api("POST", `${secretsPath("default", id)}/restore`)).status, 200);
    assert.equal((await api("GET", secretsPath("default", "payments/stripe"))).body.version, 4);
    assert.equal((await api("DELETE", `${secretsPath("default", id)}?permanent=true`)).status, 204);
    assert.equal((await api("GET", secretsPath("default", id))).body.error.code, "SECRET_NOT_FOUND");

    const generated = await api("POST", secretsPath("default"), { name: "internal", type: "INTERNAL_API_KEY" });
    assert.match(generated.body.data.value, /^cfk_/);

    assert.ok(!server.output().includes(CANARY), "the server log never holds a value");
  });

  test(`bad input gets its documented error and changes nothing (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const server = await startServer(t, target);
    const api = client(server.url, server.token);
    const anonymous = client(server.url, null);
    const path = secretsPath("default");
    const cases: [string, Promise<{ status: number; body: any }>, number, string][] = [
      ["malformed JSON", api("POST", path, `{"name":"x","data":{"k":"${CANARY}`), 400, "INVALID_REQUEST"],
      ["a number as a value", api("POST", path, { name: "x", data: { k: 5 } }), 400, "INVALID_REQUEST"],
      ["a missing name", api("POST", path, { data: { k: CANARY } }), 400, "INVALID_REQUEST"],
      ["an unknown field", api("POST", path, { name: "x", data: { k: CANARY }, colour: "red" }), 400, "INVALID_REQUEST"],
      ["a bad name", api("POST", path, { name: "a/../b", data: { k: CANARY } }), 400, "INVALID_REQUEST"],
      ["empty data", api("POST", path, { name: "x", data: {} }), 400, "INVALID_REQUEST"],
      ["too many keys", api("POST", path, { name: "x", data: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, "v"])) }), 400, "INVALID_REQUEST"],
      ["a payload over 64 KiB", api("POST", path, { name: "x", data: { k: CANARY + "x".repeat(70_000) } }), 413, "PAYLOAD_TOO_LARGE"],
      ["a body over the body limit", api("POST", path, { name: "x", data: { k: "x".repeat(300_000) } }), 413, "PAYLOAD_TOO_LARGE"],
      ["an unknown secret type", api("POST", path, { name: "x", type: "PASSWORD", data: { k: CANARY } }), 400, "INVALID_SECRET_TYPE"],
      ["a text body", api("POST", path, CANARY, { "content-type": "text/plain" }), 415, "UNSUPPORTED_MEDIA_TYPE"],
      ["an unknown route", api("GET", "/api/v1/nothing-here"), 404, "NOT_FOUND"],
      ["an unknown workspace", api("GET", secretsPath("nope")), 404, "WORKSPACE_NOT_FOUND"],
      ["an unknown secret", api("GET", secretsPath("default", "missing")), 404, "SECRET_NOT_FOUND"],
      ["a bad version", api("GET", `${secretsPath("default", "missing")}?version=zero`), 400, "INVALID_REQUEST"],
      ["no token", anonymous("GET", path), 401, "UNAUTHENTICATED"],
      ["a malformed token", client(server.url, "not-a-token")("GET", path), 401, "UNAUTHENTICATED"],
      ["an unknown well-formed token", client(server.url, "cft_" + "A".repeat(49))("GET", path), 401, "UNAUTHENTICATED"],
    ];
    for (const [what, pending, status, code] of cases) {
      const reply = await pending;
      assert.equal(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.error.code, code, what);
      assert.match(reply.body.error.requestId, /^req_/, what);
      assert.ok(!JSON.stringify(reply.body).includes(CANARY), `${what}: the error echoes no value`);
    }
    const after = await api("GET", path);
    assert.deepEqual(after.body.items, [], "no bad request created anything");
    assert.ok(!server.output().includes(CANARY), "the server log never holds a value");
  });
}

test("the OpenAPI document is generated from the route schemas", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const doc = await client(server.url, null)("GET", "/api/v1/openapi.json");
  assert.equal(doc.status, 200);
  assert.equal(doc.body.openapi, "3.1.0");
  // That every route is in it, each with its expected answers, is the access matrix's job (access-matrix.test.ts).
  const read = doc.body.paths["/api/v1/workspaces/{workspace}/secrets/{secret}"].get;
  assert.ok(read.responses["200"], "responses are documented");
  assert.ok(read.parameters.some((p: { name: string }) => p.name === "version"), "query parameters are documented");
  assert.ok(JSON.stringify(doc.body.components).includes("SECRET_NOT_FOUND"), "error codes are documented");
});
