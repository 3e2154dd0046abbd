import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { Coffer, CofferError, ROUTES } from "../src/index.ts";

async function rejectsWith(promise: Promise<unknown>, code: string, status: number): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    assert.match(error.requestId ?? "", /^req_/);
    return true;
  });
}

for (const store of STORES) {
  test(`the SDK creates, reads, updates, versions and deletes secrets (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const server = await startServer(t, target);
    const coffer = new Coffer({ addr: server.url, token: server.token!, workspace: "default" });

    const created = await coffer.secrets.create("database-config", { host: "db", password: "pw-1" }, { label: "DB", tags: ["prod"] });
    assert.equal(created.version, 1);
    const read = await coffer.secrets.get("database-config");
    assert.equal(read.data.password, "pw-1");
    assert.deepEqual(read.keys, ["host", "password"]);
    assert.equal(read.ageDays, 0);
    assert.equal((await coffer.secrets.get(created.id)).name, "database-config");

    await coffer.secrets.update("database-config", { host: "db2", password: "pw-2" }, { cas: 1 });
    await rejectsWith(coffer.secrets.update("database-config", { host: "x" }, { cas: 1 }), "VERSION_CONFLICT", 409);
    const merged = await coffer.secrets.update("database-config", { port: "5432", host: null }, { merge: true });
    assert.deepEqual(merged.data, { password: "pw-2", port: "5432" });
    assert.deepEqual((await coffer.secrets.versions("database-config")).map((v) => v.version), [3, 2, 1]);
    const rolled = await coffer.secrets.rollback("database-config", 1);
    assert.equal(rolled.data.password, "pw-1");
    assert.equal((await coffer.secrets.get("database-config", { version: 2 })).data.password, "pw-2");

    for (let i = 0; i < 3; i++) await coffer.secrets.create(`app/k${i}`, { value: "v" });
    const listed = await coffer.secrets.list({ prefix: "app/" });
    assert.deepEqual(listed.map((s) => [s.name, s.keys]), [["app/k0", ["value"]], ["app/k1", ["value"]], ["app/k2", ["value"]]]);
    assert.ok(!JSON.stringify(listed).includes("\"data\""), "lists carry no values");
    await coffer.secrets.create("app/deep/k3", { value: "v" });
    const top = await coffer.secrets.folders();
    assert.deepEqual([top.prefix, top.folders, top.secrets], ["", [{ path: "app/", secrets: 4 }], 1]);
    const app = await coffer.secrets.folders("app/");
    assert.deepEqual([app.folders, app.secrets, app.truncated], [[{ path: "app/deep/", secrets: 1 }], 3, false]);
    assert.deepEqual((await coffer.secrets.folders("", { scope: "personal" })).folders, []);

    await coffer.secrets.delete("database-config");
    await rejectsWith(coffer.secrets.get("database-config"), "SECRET_NOT_FOUND", 404);
  });
}

test("the Practicus shape keeps personal and shared values apart and reports age", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const coffer = new Coffer({ addr: server.url, token: server.token!, workspace: "default" });
  await coffer.createOrUpdateSecret("OPENAI_KEY", "personal-value");
  await coffer.createOrUpdateSecret("OPENAI_KEY", "personal-value-2");
  await coffer.secrets.create("OPENAI_KEY", { value: "shared-value" });
  assert.deepEqual(await coffer.getSecret("OPENAI_KEY"), { value: "personal-value-2", ageDays: 0 });
  assert.deepEqual(await coffer.getSecret("OPENAI_KEY", { shared: true }), { value: "shared-value", ageDays: 0 });
  await coffer.secrets.create("multi", { a: "1", b: "2" });
  assert.deepEqual((await coffer.getSecret("multi", { shared: true })).value, { a: "1", b: "2" });
  await coffer.deleteSecret("OPENAI_KEY");
  await rejectsWith(coffer.getSecret("OPENAI_KEY"), "SECRET_NOT_FOUND", 404);
  assert.equal((await coffer.getSecret("OPENAI_KEY", { shared: true })).value, "shared-value");
});

test("withSecrets hands a frozen mapping, fetched in one request, to the callback only", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  let requests = 0;
  const counting: typeof fetch = (input, init) => {
    requests++;
    return fetch(input, init);
  };
  const admin = new Coffer({ addr: server.url, token: server.token! });
  await admin.secrets.create("A", { value: "alpha" });
  await admin.secrets.create("B", { user: "u", pass: "p" });
  const coffer = new Coffer({ addr: server.url, token: server.token!, fetch: counting });
  const seen = await coffer.withSecrets(["A", "B"], (vault) => {
    assert.ok(Object.isFrozen(vault));
    assert.throws(() => {
      (vault as Record<string, unknown>).A = "changed";
    });
    return { a: vault.A, b: vault.B };
  });
  assert.deepEqual(seen, { a: "alpha", b: { user: "u", pass: "p" } });
  assert.equal(requests, 1);
  await rejectsWith(coffer.withSecrets(["A", "missing"], () => "never"), "SECRET_NOT_FOUND", 404);
});

test("errors are typed: bad token, bad type, access denied", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  await rejectsWith(new Coffer({ addr: server.url, token: "cft_" + "A".repeat(49) }).secrets.list(), "UNAUTHENTICATED", 401);
  const coffer = new Coffer({ addr: server.url, token: server.token! });
  await rejectsWith(coffer.secrets.create("typed", { v: "1" }, { type: "NOPE" as never }), "INVALID_SECRET_TYPE", 400);
  await coffer.secrets.create("guarded", { v: "1" });
  const readOnly = await fetch(`${server.url}/api/v1/auth/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    body: JSON.stringify({ access: "read" }),
  }).then((r) => r.json() as Promise<{ token: string }>);
  const limited = new Coffer({ addr: server.url, token: readOnly.token });
  assert.equal((await limited.secrets.get("guarded")).data.v, "1");
  await rejectsWith(limited.secrets.update("guarded", { v: "2" }), "ACCESS_DENIED", 403);
});

test("429s are retried after Retry-After, then surface as RATE_LIMITED", async (t) => {
  let calls = 0;
  const stub = createServer((request, response) => {
    calls++;
    if (calls <= 2) {
      response.writeHead(429, { "content-type": "application/json", "retry-after": "0" });
      response.end(JSON.stringify({ error: { code: "RATE_LIMITED", message: "slow down", requestId: "req_stub" } }));
    } else {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ items: [], folders: [], nextCursor: null }));
    }
  });
  stub.listen(0, "127.0.0.1");
  await once(stub, "listening");
  t.after(() => stub.close());
  const addr = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  assert.deepEqual(await new Coffer({ addr, token: "t" }).secrets.list(), []);
  assert.equal(calls, 3);
  calls = 0;
  await rejectsWith(new Coffer({ addr, token: "t", maxRetries: 1 }).secrets.list(), "RATE_LIMITED", 429);
  assert.equal(calls, 2);
});

test("every route the SDK calls is in the server's OpenAPI document", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  for (const [name, [method, path]] of Object.entries(ROUTES)) {
    assert.ok(doc.paths[path]?.[method.toLowerCase()], `${name}: ${method} ${path} is not in the OpenAPI document`);
  }
});

test("browser mode: a session cookie with its CSRF token, and write-only answers that never carry a value", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const admin = new Coffer({ addr: server.url, token: server.token! });
  await admin.call("updateUser", { user: "admin" }, { body: { password: "browser-mode-pw" } });
  // What a browser does with cookies: keep the one login sets, send it back on every request.
  let cookie = "";
  const browserFetch: typeof fetch = async (input, init) => {
    assert.equal(init?.credentials, "same-origin");
    const response = await fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...(cookie ? { cookie } : {}) } });
    const set = response.headers.get("set-cookie");
    if (set) cookie = set.split(";")[0]!;
    return response;
  };
  const anonymous = new Coffer({ addr: server.url, token: "", fetch: browserFetch });
  const session = await anonymous.call<{ csrfToken: string; token?: string }>("login", {}, { body: { username: "admin", password: "browser-mode-pw", session: "cookie" } });
  assert.match(cookie, /^coffer_session=/);
  assert.equal(session.token, undefined, "a cookie login keeps the token out of the answer");

  const withoutCsrf = new Coffer({ addr: server.url, token: "", fetch: browserFetch, writeOnly: true });
  await rejectsWith(withoutCsrf.secrets.create("web-secret", { a: "value-one" }), "ACCESS_DENIED", 403);

  const ui = new Coffer({ addr: server.url, token: "", fetch: browserFetch, csrfToken: session.csrfToken, writeOnly: true });
  const answers = [
    await ui.secrets.create("web-secret", { a: "value-one", b: "value-two" }),
    await ui.secrets.update("web-secret", { a: "value-three" }, { merge: true }),
    await ui.secrets.update("web-secret", { a: "value-four", b: "value-five" }),
    await ui.secrets.rollback("web-secret", 1),
  ];
  for (const answer of answers) assert.ok(!("data" in answer) && !JSON.stringify(answer).includes("value-"), JSON.stringify(answer));
  assert.equal(answers[3]!.version, 4);

  const metadata = await ui.secrets.metadata("web-secret");
  assert.deepEqual([metadata.keys, metadata.version, metadata.access], [["a", "b"], 4, "manage"]);
  assert.ok(!JSON.stringify(metadata).includes("value-"));
  // A program without writeOnly still gets the data back from a write.
  assert.equal((await admin.secrets.update("web-secret", { a: "value-six" }, { merge: true })).data.a, "value-six");
  assert.equal((await ui.secrets.get("web-secret")).data.a, "value-six", "reads still read; the UI never calls them");

  await ui.secrets.delete("web-secret");
  assert.equal((await ui.secrets.metadata("web-secret")).deletedAt !== null, true);
  assert.equal((await ui.secrets.restore("web-secret")).deletedAt, null);
});
