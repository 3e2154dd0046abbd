/**
 * The Vault KV v2 subset under /v1, spoken by the published node-vault
 * client (unchanged) against a real server, plus the LIST verb on raw
 * sockets: alone, on a keep-alive connection, and pipelined.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import nodeVault from "node-vault";
import { auditOf, compatWorld, must, type CompatWorld } from "./support/compat.ts";
import { client } from "./support/http.ts";

type Vault = ReturnType<typeof nodeVault>;
type VaultFailure = Error & { response?: { statusCode: number; body: { errors?: string[] } } };

/** The request id of a Vault answer: what the audit log is searched by. */
const requestIdOf = (answer: { request_id: string }): string => answer.request_id;

async function refused(promise: Promise<unknown>, status: number, message?: string): Promise<void> {
  await assert.rejects(promise, (error: VaultFailure) => {
    assert.equal(error.response?.statusCode, status, `expected ${status}, got ${error.response?.statusCode} ${error.message}`);
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  });
}

test("node-vault: KV v2 data, versions, lists, patch, delete, undelete, destroy, metadata, config and CAS", async (t) => {
  const world = await compatWorld(t);
  const vault: Vault = nodeVault({ endpoint: world.url, token: world.adminToken });

  const written = await vault.write("secret/data/payments/stripe", { data: { api_key: "sk-v1" } });
  assert.equal(written.data.version, 1);
  assert.ok(requestIdOf(written).startsWith("req_"));
  const rewritten = await vault.write("secret/data/payments/stripe", { data: { api_key: "sk-v2" }, options: { cas: 1 } });
  await vault.write("secret/data/payments/paypal", { data: { user: "u", password: "p" } });

  const read = await vault.read("secret/data/payments/stripe");
  assert.deepEqual(read.data.data, { api_key: "sk-v2" });
  assert.equal(read.data.metadata.version, 2);
  assert.deepEqual(Object.keys(read).sort(), ["auth", "data", "lease_duration", "lease_id", "mount_type", "renewable", "request_id", "warnings", "wrap_info"]);
  // The read is in the audit log exactly as a native read would be.
  const [readEvent] = await auditOf(world, requestIdOf(read));
  assert.deepEqual([readEvent?.action, readEvent?.outcome, readEvent?.secretName, readEvent?.actor.name], ["secret.read", "ok", "payments/stripe", "admin"]);
  assert.equal((await auditOf(world, requestIdOf(written)))[0]?.action, "secret.create", "the write that made the secret");
  assert.equal((await auditOf(world, requestIdOf(rewritten)))[0]?.action, "secret.update");
  assert.deepEqual((await vault.read("secret/data/payments/stripe?version=1")).data.data, { api_key: "sk-v1" });
  // The workspace's own name is the same engine as the secret/ alias.
  assert.deepEqual((await vault.read("default/data/payments/stripe")).data.data, { api_key: "sk-v2" });
  // The same secret through the native API.
  assert.equal((await must(world.admin("GET", "/api/v1/workspaces/default/secrets/payments%2Fstripe"), 200, "native read")).data.api_key, "sk-v2");

  // LIST, the verb node-vault sends.
  assert.deepEqual((await vault.list("secret/metadata/payments")).data.keys, ["paypal", "stripe"]);
  assert.deepEqual((await vault.list("secret/metadata/")).data.keys, ["payments/", "shared/"]);
  await refused(vault.list("secret/metadata/nothing-here"), 404);

  // CAS mismatch: Vault's own 400 and message.
  await refused(vault.write("secret/data/payments/stripe", { data: { api_key: "late" }, options: { cas: 1 } }), 400, "check-and-set parameter did not match the current version");
  // cas 0: only when the secret does not exist.
  await refused(vault.write("secret/data/payments/stripe", { data: { api_key: "again" }, options: { cas: 0 } }), 400);

  const patched = await vault.update("secret/data/payments/stripe", { data: { region: "eu" } });
  assert.equal(patched.data.version, 3);
  assert.deepEqual((await vault.read("secret/data/payments/stripe")).data.data, { api_key: "sk-v2", region: "eu" });
  await refused(vault.update("secret/data/payments/missing", { data: { a: "b" } }), 404);

  // Soft-delete the latest version, undelete it; destroy an old one.
  await vault.delete("secret/data/payments/stripe");
  await refused(vault.read("secret/data/payments/stripe"), 404);
  assert.deepEqual((await vault.read("secret/data/payments/stripe?version=2")).data.data, { api_key: "sk-v2" });
  await vault.write("secret/undelete/payments/stripe", { versions: [3] });
  assert.equal((await vault.read("secret/data/payments/stripe")).data.metadata.version, 3);
  await vault.write("secret/delete/payments/stripe", { versions: [2] });
  await refused(vault.read("secret/data/payments/stripe?version=2"), 404);
  await vault.write("secret/destroy/payments/stripe", { versions: [1] });
  await refused(vault.read("secret/data/payments/stripe?version=1"), 404);

  const metadata = (await vault.read("secret/metadata/payments/stripe")).data;
  assert.equal(metadata.current_version, 3);
  assert.equal(metadata.versions["1"].destroyed, true);
  assert.notEqual(metadata.versions["2"].deletion_time, "");
  assert.equal(metadata.versions["3"].deletion_time, "");

  await vault.write("secret/metadata/payments/stripe", { max_versions: 5, cas_required: true, delete_version_after: "768h", custom_metadata: { owner: "payments" } });
  const settings = (await vault.read("secret/metadata/payments/stripe")).data;
  assert.equal(settings.cas_required, true);
  assert.equal(settings.max_versions, 5);
  assert.equal(settings.delete_version_after, "768h0m0s");
  assert.deepEqual(settings.custom_metadata, { owner: "payments" });
  await refused(vault.write("secret/data/payments/stripe", { data: { api_key: "no-cas" } }), 400);
  const withCas = await vault.write("secret/data/payments/stripe", { data: { api_key: "sk-v4" }, options: { cas: 3 } });
  assert.deepEqual(withCas.data.custom_metadata, { owner: "payments" });
  assert.notEqual(withCas.data.deletion_time, "", "delete_version_after schedules the new version's deletion");
  await vault.request({ path: "/secret/metadata/payments/stripe", method: "PATCH", json: { custom_metadata: { owner: null, team: "core" } }, headers: { "content-type": "application/merge-patch+json" } });
  assert.deepEqual((await vault.read("secret/metadata/payments/stripe")).data.custom_metadata, { team: "core" });
  assert.deepEqual((await vault.read("secret/subkeys/payments/stripe")).data.subkeys, { api_key: null });

  // metadata DELETE removes every version.
  await vault.delete("secret/metadata/payments/paypal");
  await refused(vault.read("secret/data/payments/paypal"), 404);
  await refused(vault.read("secret/metadata/payments/paypal"), 404);

  assert.deepEqual((await vault.read("secret/config")).data, { max_versions: 10, cas_required: false, delete_version_after: "0s" });
  await vault.write("secret/config", { max_versions: 20 });
  assert.equal((await vault.read("secret/config")).data.max_versions, 20);
});

test("node-vault: tokens, userpass and AppRole login, mounts, sys", async (t) => {
  const world = await compatWorld(t);
  const vault: Vault = nodeVault({ endpoint: world.url, token: world.adminToken });

  const self = await vault.tokenLookupSelf();
  assert.equal(self.data.display_name, "bootstrap");
  assert.ok(!JSON.stringify(self).includes(world.adminToken), "lookup-self never echoes the token");

  // node-vault switches the creating client to the new token, as the Vault CLI does not: a client of its own.
  const child = await nodeVault({ endpoint: world.url, token: world.adminToken }).tokenCreate({ ttl: "10m", display_name: "ci-run" });
  assert.match(child.auth.client_token, /^cft_/);
  assert.ok(child.auth.lease_duration > 0 && child.auth.lease_duration <= 600);
  const asChild: Vault = nodeVault({ endpoint: world.url, token: child.auth.client_token });
  assert.equal((await asChild.tokenLookupSelf()).data.display_name, "ci-run");
  await asChild.tokenRevokeSelf();
  await refused(asChild.tokenLookupSelf(), 403, "permission denied");

  // userpass: a Coffer user's password login.
  const user: Vault = nodeVault({ endpoint: world.url });
  const login = await user.userpassLogin({ username: world.member.username, password: world.member.password });
  assert.match(login.auth.client_token, /^cft_/);
  assert.equal(user.token, login.auth.client_token);
  await refused(nodeVault({ endpoint: world.url }).userpassLogin({ username: world.member.username, password: "wrong-password" }), 400, "invalid username or password");

  // AppRole: the service account's id and one of its tokens, exchanged for a child token.
  const app: Vault = nodeVault({ endpoint: world.url });
  const approle = await app.approleLogin({ role_id: world.account.id, secret_id: world.account.token });
  const asApp: Vault = nodeVault({ endpoint: world.url, token: approle.auth.client_token });
  assert.deepEqual((await asApp.read("secret/data/shared/api")).data.data, { value: "shared-v1" });
  await refused(asApp.write("secret/data/shared/api", { data: { value: "nope" } }), 403, "permission denied");
  await refused(nodeVault({ endpoint: world.url }).approleLogin({ role_id: "sa_wrong", secret_id: world.account.token }), 400);

  // Mounts are workspaces, each a KV version 2 engine.
  const mounts = await vault.mounts();
  assert.equal(mounts.data["secret/"].type, "kv");
  assert.equal(mounts.data["default/"].options.version, "2");
  await vault.mount({ mount_point: "team-b", type: "kv", options: { version: "2" } });
  await vault.write("team-b/data/db", { data: { password: "team-b-db" } });
  assert.deepEqual((await vault.read("team-b/data/db")).data.data, { password: "team-b-db" });
  const ui = await vault.read("sys/internal/ui/mounts/team-b/db");
  assert.deepEqual([ui.data.type, ui.data.options.version, ui.data.path], ["kv", "2", "team-b/"]);
  await vault.unmount({ mount_point: "team-b" });
  await refused(vault.read("team-b/data/db"), 403);

  assert.equal((await vault.health()).sealed, false);
  const seal = await vault.status();
  assert.equal(seal.sealed, false);
  assert.equal((await vault.initialized()).initialized, true);
  // A key-file server is never sealed: seal and unseal are refused with Vault's error shape.
  await refused(vault.unseal({ key: "share" }), 400);
});

test("Vault adapter: a token without a grant gets Vault's permission error, and so does a bad token", async (t) => {
  const world = await compatWorld(t);
  const member: Vault = nodeVault({ endpoint: world.url, token: world.member.token });
  // Hidden and missing look the same to a member: 403, as a path outside a Vault policy.
  await refused(member.read("secret/data/shared/api"), 403, "permission denied");
  await refused(member.read("secret/data/does/not/exist"), 403, "permission denied");
  await refused(member.write("secret/data/shared/api", { data: { value: "x" } }), 403, "permission denied");
  await refused(member.write("secret/destroy/shared/api", { versions: [1] }), 403, "permission denied");
  await refused(member.delete("secret/metadata/shared/api"), 403, "permission denied");
  await refused(member.mount({ mount_point: "mine", type: "kv" }), 403, "permission denied");
  await refused(member.write("secret/config", { max_versions: 3 }), 403, "permission denied");
  await refused(nodeVault({ endpoint: world.url, token: "cft_not-a-token" }).read("secret/data/shared/api"), 403, "permission denied");
  await refused(nodeVault({ endpoint: world.url, token: "" }).read("secret/data/shared/api"), 403, "permission denied");
  // A refusal names its request id in a header (Vault's body has none), for the audit log.
  const refusal = await client(world.url, world.member.token)("GET", "/v1/secret/data/shared/api");
  assert.equal(refusal.status, 403);
  assert.match(refusal.headers.get("x-request-id") ?? "", /^req_/);
  // The value was not changed by any of it, and Authorization: Bearer works as well as X-Vault-Token.
  const bearer = await client(world.url, world.adminToken)("GET", "/v1/secret/data/shared/api");
  assert.equal(bearer.status, 200);
  assert.deepEqual(bearer.body.data.data, { value: "shared-v1" });
  // The error shape is Vault's, and native errors are untouched.
  const unknown = await client(world.url, world.adminToken)("GET", "/v1/sys/nonsense/route");
  assert.equal(unknown.status, 404);
  assert.ok(Array.isArray(unknown.body.errors));
  // Under a KV mount, Vault's 404 carries a warning instead (vault-fidelity.test.ts).
  assert.ok(Array.isArray((await client(world.url, world.adminToken)("GET", "/v1/secret/nonsense/route")).body.warnings));
  assert.equal((await client(world.url, null)("GET", "/api/v1/workspaces")).body.error.code, "UNAUTHENTICATED");
});

// ---- the LIST verb on the wire

function exchange(world: CompatWorld, payload: string, expected: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(world.url).port), "127.0.0.1");
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${countResponses(text)} of ${expected} answers:\n${text}`));
    }, 5000);
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      if (countResponses(text) >= expected && completeBodies(text)) {
        clearTimeout(timer);
        socket.end();
        resolve(text);
      }
    });
    socket.on("error", reject);
    socket.write(payload);
  });
}

const countResponses = (text: string) => text.split("HTTP/1.1 ").length - 1;
const completeBodies = (text: string) =>
  text.split(/(?=HTTP\/1\.1 )/).every((part) => {
    const length = Number(/content-length: (\d+)/i.exec(part)?.[1] ?? 0);
    const body = part.split("\r\n\r\n")[1] ?? "";
    return Buffer.byteLength(body, "latin1") >= length;
  });

function request(method: string, path: string, token: string): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${token}\r\n\r\n`;
}

function bodies(text: string): any[] {
  return text
    .split(/(?=HTTP\/1\.1 )/)
    .filter(Boolean)
    .map((part) => JSON.parse(part.split("\r\n\r\n")[1]!));
}

test("LIST works alone, on a keep-alive connection followed by GET, and pipelined in the middle of other requests", async (t) => {
  const world = await compatWorld(t);
  const token = world.adminToken;
  const read = request("GET", "/v1/secret/data/shared/api", token);
  const list = request("LIST", "/v1/secret/metadata/shared", token);

  const [alone] = bodies(await exchange(world, list, 1));
  assert.deepEqual(alone.data.keys, ["api"]);

  // Keep-alive: LIST, then GET on the same connection (sent as the previous answer arrives).
  const keepAlive = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(world.url).port), "127.0.0.1");
    let text = "";
    let sent = false;
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      if (!sent && countResponses(text) === 1 && completeBodies(text)) {
        sent = true;
        socket.write(read);
      }
      if (countResponses(text) === 2 && completeBodies(text)) {
        socket.end();
        resolve(text);
      }
    });
    socket.on("error", reject);
    socket.write(list);
  });
  const [listed, after] = bodies(keepAlive);
  assert.deepEqual(listed.data.keys, ["api"]);
  assert.deepEqual(after.data.data, { value: "shared-v1" });

  // Pipelined in one write: GET, LIST, GET, LIST, GET — answered in order.
  const pipelined = bodies(await exchange(world, read + list + read + list + read, 5));
  assert.equal(pipelined.length, 5);
  for (const i of [0, 2, 4]) assert.deepEqual(pipelined[i].data.data, { value: "shared-v1" }, `answer ${i}`);
  for (const i of [1, 3]) assert.deepEqual(pipelined[i].data.keys, ["api"], `answer ${i}`);

  // Many LISTs on one connection: each hand-off lets go of the socket once answered, so nothing piles up.
  const many = bodies(await exchange(world, list.repeat(15) + read, 16));
  assert.ok(many.slice(0, 15).every((body) => body.data.keys[0] === "api"));
  assert.deepEqual(many[15].data.data, { value: "shared-v1" });
  assert.ok(!world.server.output().includes("MaxListenersExceeded"), world.server.output());

  // A request line split across TCP segments right inside the verb ("LI" | "ST /…").
  const split = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(world.url).port), "127.0.0.1");
    socket.setNoDelay(true);
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      if (countResponses(text) === 1 && completeBodies(text)) {
        socket.end();
        resolve(text);
      }
    });
    socket.on("error", reject);
    socket.write(list.slice(0, 2));
    setTimeout(() => socket.write(list.slice(2)), 100);
  });
  assert.deepEqual(bodies(split)[0].data.keys, ["api"]);

  // A LIST with a bad token gets Vault's 403; an unknown verb is still a plain 400.
  const [denied] = bodies(await exchange(world, request("LIST", "/v1/secret/metadata/shared", "cft_bad"), 1));
  assert.deepEqual(denied, { errors: ["permission denied"] });
  assert.match(await exchange(world, "BREW /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n", 1), /^HTTP\/1\.1 400/);
});

test("Vault and Vellum adapters spend the workspace's rate-limit budget like native requests: 429 with Retry-After", async (t) => {
  const world = await compatWorld(t);
  await must(world.admin("PATCH", "/api/v1/workspaces/default", { rateLimits: { readsPerSecond: 2, writesPerSecond: 1 } }), 200, "tight limits");
  const vault = client(world.url, world.adminToken);
  const reads = await Promise.all(Array.from({ length: 6 }, () => vault("GET", "/v1/secret/data/shared/api")));
  const limited = reads.filter((reply) => reply.status === 429);
  assert.ok(limited.length >= 3, `reads beyond the budget are refused (${reads.map((r) => r.status).join(",")})`);
  assert.ok(Array.isArray(limited[0]!.body.errors), "in Vault's error shape");
  assert.match(limited[0]!.headers.get("retry-after") ?? "", /^\d+$/);
  const key = (await must(world.admin("POST", "/api/v1/auth/tokens", { name: "vellum", workspace: "default" }), 201, "workspace key")).token;
  const vellum = client(world.url, null);
  const patches = await Promise.all(Array.from({ length: 4 }, () => vellum("PATCH", "/vellum/v1/workspace-secrets/shared%2Fapi", { label: "x" }, { "x-api-key": key })));
  assert.ok(patches.some((reply) => reply.status === 429), `updates beyond the budget are refused (${patches.map((r) => r.status).join(",")})`);
});

test("Vault token/create refuses restrictions Coffer cannot honour rather than minting a wider token", async (t) => {
  const world = await compatWorld(t);
  const vault = client(world.url, world.adminToken);
  for (const body of [{ policies: ["read-only"] }, { num_uses: 1 }]) {
    const refused = await vault("POST", "/v1/auth/token/create", body);
    assert.equal(refused.status, 400, JSON.stringify(body));
    assert.ok(Array.isArray(refused.body.errors));
  }
  assert.equal((await vault("POST", "/v1/auth/token/create", { policies: ["default"], ttl: "1h" })).status, 200);
});
