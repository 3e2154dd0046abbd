/**
 * What Vault's clients and tools rely on beyond the basic calls, spoken by
 * the published node-vault client (unchanged) and plain HTTP against a real
 * server: mount options as numbers, JSON values of any type, idempotent
 * deletes, check-and-set failures, long names, subkeys, tokens, ACL
 * policies and framework errors in each API's shape.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import nodeVault from "node-vault";
import { compatWorld, must } from "./support/compat.ts";

type Vault = ReturnType<typeof nodeVault>;
type VaultFailure = Error & { response?: { statusCode: number; body: { errors?: string[] } } };

async function refused(promise: Promise<unknown>, status: number, message?: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: VaultFailure) => {
    assert.equal(error.response?.statusCode, status, `expected ${status}, got ${error.response?.statusCode} ${error.message}`);
    if (typeof message === "string") assert.equal(error.message, message);
    if (message instanceof RegExp) assert.match(error.message, message);
    return true;
  });
}

/** A raw /v1 request with the token in X-Vault-Token; the body is sent as given (no content type, as the Vault CLI does). */
async function raw(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, { method, headers: { "x-vault-token": token }, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

test("node-vault: a mount takes options.version and config as numbers or strings, as Vault's docs and clients send them", async (t) => {
  const world = await compatWorld(t);
  const vault: Vault = nodeVault({ endpoint: world.url, token: world.adminToken });
  await vault.mount({ mount_point: "numbers", type: "kv", options: { version: 2 }, config: { default_lease_ttl: 3600, max_lease_ttl: "768h", force_no_cache: false } });
  await vault.mount({ mount_point: "strings", type: "kv", options: { version: "2" } });
  await refused(vault.mount({ mount_point: "old-kv", type: "kv", options: { version: 1 } }), 400, /options.version must be 2/);
  const mounts = await vault.mounts();
  assert.equal(mounts.data["numbers/"].options.version, "2");
  assert.ok(mounts.data["strings/"]);
  // One mount read back, as Terraform's vault_mount does; a member of `default` only is refused another workspace's.
  const one = await raw(world.url, world.adminToken, "GET", "/v1/sys/mounts/numbers");
  assert.deepEqual([one.status, one.body.data.type, one.body.data.options.version], [200, "kv", "2"]);
  assert.equal((await raw(world.url, world.member.token, "GET", "/v1/sys/mounts/numbers")).status, 403);
  await vault.write("numbers/data/x", { data: { a: "b" } });
  assert.deepEqual((await vault.read("numbers/data/x")).data.data, { a: "b" });
});

test("node-vault: any JSON value round-trips with its type; the native API shows non-strings as JSON text", async (t) => {
  const world = await compatWorld(t);
  const vault: Vault = nodeVault({ endpoint: world.url, token: world.adminToken });
  const data = { count: 7, ratio: 0.25, enabled: true, off: false, nothing: null, sa: { type: "service_account", scopes: ["a", "b"], nested: { depth: 2 } }, list: [1, "two", { three: 3 }], text: "7" };
  await vault.write("secret/data/typed", { data });
  assert.deepEqual((await vault.read("secret/data/typed")).data.data, data);

  // The native API: strings as they are (the string "7" stays "7"), every other value as its JSON text.
  const native = await must(world.admin("GET", "/api/v1/workspaces/default/secrets/typed"), 200, "native read");
  assert.deepEqual(native.data, {
    count: "7",
    ratio: "0.25",
    enabled: "true",
    off: "false",
    nothing: "null",
    sa: JSON.stringify(data.sa),
    list: JSON.stringify(data.list),
    text: "7",
  });
  assert.equal(native.values, undefined, "the native answer carries text only");

  // A patch keeps the types of the keys it does not touch, and sets typed values.
  await vault.update("secret/data/typed", { data: { count: 8, text: null } });
  const { text: _, ...rest } = data;
  assert.deepEqual((await vault.read("secret/data/typed")).data.data, { ...rest, count: 8 });
  // Older versions keep theirs.
  assert.deepEqual((await vault.read("secret/data/typed?version=1")).data.data, data);

  // Subkeys: the shape, leaves null, `depth` levels down (0: all of it).
  assert.deepEqual((await vault.read("secret/subkeys/typed")).data.subkeys, { count: null, ratio: null, enabled: null, off: null, nothing: null, sa: { type: null, scopes: null, nested: { depth: null } }, list: null });
  assert.deepEqual((await vault.read("secret/subkeys/typed?depth=2")).data.subkeys.sa, { type: null, scopes: null, nested: null });
  assert.deepEqual((await vault.read("secret/subkeys/typed?depth=1")).data.subkeys.sa, null);

  // A native write of the same secret stores strings: what it sent, nothing else.
  await must(world.admin("PATCH", "/api/v1/workspaces/default/secrets/typed", { data: { count: "9" } }), 200, "native patch");
  assert.equal((await vault.read("secret/data/typed")).data.data.count, "9");
  assert.equal((await vault.read("secret/data/typed")).data.data.enabled, true);
});

test("node-vault: deletes are idempotent (204 for what is not there), and a cas that cannot match fails with Vault's 400", async (t) => {
  const world = await compatWorld(t);
  const vault: Vault = nodeVault({ endpoint: world.url, token: world.adminToken });
  await vault.delete("secret/data/never-written");
  await vault.delete("secret/metadata/never-written");
  for (const verb of ["delete", "undelete", "destroy"]) await vault.write(`secret/${verb}/never-written`, { versions: [1] });
  for (const [method, path, body] of [
    ["DELETE", "/v1/secret/data/never-written", undefined],
    ["DELETE", "/v1/secret/metadata/never-written", undefined],
    ["POST", "/v1/secret/destroy/never-written", { versions: [1] }],
  ] as const) {
    assert.equal((await raw(world.url, world.adminToken, method, path, body)).status, 204, `${method} ${path}`);
  }
  await vault.write("secret/data/once", { data: { a: "1" } });
  await vault.delete("secret/metadata/once");
  await vault.delete("secret/metadata/once");
  await refused(vault.read("secret/data/once"), 404);

  const casFailure = "check-and-set parameter did not match the current version";
  await vault.write("secret/data/cas", { data: { a: "1" } });
  await refused(vault.write("secret/data/cas", { data: { a: "2" }, options: { cas: -1 } }), 400, casFailure);
  await refused(vault.update("secret/data/cas", { data: { a: "2" }, options: { cas: -1 } }), 400, casFailure);
  // A version of a secret that does not exist cannot match either (Vault's current version there is 0).
  await refused(vault.write("secret/data/cas-missing", { data: { a: "2" }, options: { cas: 3 } }), 400, casFailure);
  await vault.write("secret/data/cas-missing", { data: { a: "1" }, options: { cas: 0 } });
  assert.equal((await vault.read("secret/data/cas")).data.metadata.version, 1, "a refused write changes nothing");

  // A caller who does not see every name gets Vault's 403 for a path outside its grants, existing or not.
  const member: Vault = nodeVault({ endpoint: world.url, token: world.member.token });
  await refused(member.delete("secret/data/never-written"), 403);
  await refused(member.delete("secret/metadata/once"), 403);
});

test("names of 101 to 256 characters are addressable on the native API and on /v1", async (t) => {
  const world = await compatWorld(t);
  const vault: Vault = nodeVault({ endpoint: world.url, token: world.adminToken });
  const flat = "n".repeat(200);
  const path = `${"a".repeat(60)}/${"b".repeat(60)}/${"c".repeat(60)}/${"d".repeat(73)}`;
  assert.equal(path.length, 256);
  for (const name of [flat, path]) {
    const encoded = encodeURIComponent(name);
    await must(world.admin("PUT", `/api/v1/workspaces/default/secrets/${encoded}`, { data: { v: "native" } }), 201, `native create ${name.length}`);
    assert.equal((await must(world.admin("GET", `/api/v1/workspaces/default/secrets/${encoded}`), 200, "native read")).data.v, "native");
    await vault.write(`secret/data/${name}`, { data: { v: "vault" } });
    assert.equal((await vault.read(`secret/data/${name}`)).data.data.v, "vault");
    assert.equal((await vault.read(`secret/metadata/${name}`)).data.current_version, 2);
    await must(world.admin("DELETE", `/api/v1/workspaces/default/secrets/${encoded}`), 204, "native delete");
  }
  // One character more is the name rule's own error, not the router's.
  const tooLong = await world.admin("PUT", `/api/v1/workspaces/default/secrets/${"x".repeat(257)}`, { data: { v: "x" } });
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.body.error.code, "INVALID_REQUEST");
  await refused(vault.write(`secret/data/${"x".repeat(257)}`, { data: { v: "x" } }), 400, /256/);
});

test("node-vault: KV v2 route by route as Vault's API documentation has it: 404 bodies, warnings, options, versions and defaults", async (t) => {
  const world = await compatWorld(t);
  const vault: Vault = nodeVault({ endpoint: world.url, token: world.adminToken });
  await vault.write("secret/data/doc", { data: { v: "1" } });
  await vault.write("secret/data/doc", { data: { v: "2" }, options: { cas: 1 } });

  // A deleted or destroyed version: 404 with the version's metadata and null data, as `vault kv get` prints it.
  await vault.delete("secret/data/doc");
  await assert.rejects(vault.read("secret/data/doc"), (error: VaultFailure & { response: { body: any } }) => {
    assert.equal(error.response.statusCode, 404);
    assert.equal(error.response.body.data.data, null);
    assert.equal(error.response.body.data.metadata.version, 2);
    assert.notEqual(error.response.body.data.metadata.deletion_time, "");
    return true;
  });
  // Versions as Vault's TypeCommaIntSlice takes them: text, a comma-separated string.
  await vault.write("secret/destroy/doc", { versions: "1" });
  const destroyed = await raw(world.url, world.adminToken, "GET", "/v1/secret/data/doc?version=1");
  assert.equal(destroyed.status, 404);
  assert.deepEqual([destroyed.body.data.data, destroyed.body.data.metadata.destroyed], [null, true]);
  await vault.write("secret/undelete/doc", { versions: ["2"] });
  assert.deepEqual((await vault.read("secret/data/doc")).data.data, { v: "2" });
  await refused(vault.write("secret/undelete/doc", {}), 400, "no version number provided");
  await refused(vault.write("secret/delete/doc", { versions: "x" }), 400, /version numbers/);

  // A write or patch without data gets Vault's message.
  await refused(vault.write("secret/data/doc", { options: { cas: 2 } }), 400, "no data provided");
  await refused(vault.update("secret/data/doc", { options: { cas: 2 } }), 400, "no data provided");

  // Custom metadata is text: numbers and booleans become theirs, as Vault's weak decoding does.
  await vault.write("secret/metadata/doc", { custom_metadata: { owner: "jdoe", tier: 2, critical: false } });
  assert.deepEqual((await vault.read("secret/metadata/doc")).data.custom_metadata, { owner: "jdoe", tier: "2", critical: "false" });
  // A metadata write that sets nothing is done (204), even for a path with no secret.
  assert.equal((await raw(world.url, world.adminToken, "POST", "/v1/secret/metadata/nothing-here", {})).status, 204);

  // The engine's cas_required wins over a secret's false, and Vault says so in a warning (200, not 204).
  await vault.write("secret/config", { cas_required: true, max_versions: 4 });
  const warned = await raw(world.url, world.adminToken, "POST", "/v1/secret/metadata/doc", { cas_required: false });
  assert.equal(warned.status, 200);
  assert.deepEqual(warned.body.warnings, ['"cas_required" set to false, but is mandated by backend config. This value will be ignored.']);
  await refused(vault.write("secret/data/doc", { data: { v: "3" } }), 400, "check-and-set parameter required for this call");
  await refused(vault.update("secret/data/doc", { data: { v: "3" } }), 400, "check-and-set parameter required for this call");
  // cas as its decimal text, which Vault decodes too.
  assert.equal((await vault.write("secret/data/doc", { data: { v: "3" }, options: { cas: "2" } })).data.version, 3);
  // max_versions 0 is Vault's default of 10 versions, not "leave as it is".
  await vault.write("secret/config", { cas_required: false, max_versions: 0 });
  assert.deepEqual((await vault.read("secret/config")).data, { max_versions: 10, cas_required: false, delete_version_after: "0s" });

  // Subkeys: a map with no keys is a leaf, as in Vault's documented sample.
  await vault.write("secret/data/shape", { data: { foo: "abc", bar: { baz: "def" }, quux: {} } });
  assert.deepEqual((await vault.read("secret/subkeys/shape")).data.subkeys, { foo: null, bar: { baz: null }, quux: null });

  // A KV version 1 path on this version 2 engine: 404 with Vault's warning naming the `vault kv` command to use.
  const v1Path = await raw(world.url, world.adminToken, "GET", "/v1/secret/doc");
  assert.equal(v1Path.status, 404);
  assert.match(v1Path.body.warnings[0], /^Invalid path for a versioned K\/V secrets engine\..*'vault kv get'/);
  const v1Write = await raw(world.url, world.adminToken, "POST", "/v1/secret/doc", { v: "x" });
  assert.match(v1Write.body.warnings[0], /'vault kv put'/);
  assert.deepEqual((await vault.read("secret/data/doc")).data.data, { v: "3" }, "nothing was written");
  // Vault's own mounts keep its plain "no handler" answer.
  assert.match((await raw(world.url, world.adminToken, "GET", "/v1/sys/nothing")).body.errors[0], /no handler for route "sys\/nothing"/);
});

test("node-vault: auth/token/create-orphan makes an orphan for an instance administrator, and refuses everyone else", async (t) => {
  const world = await compatWorld(t);
  const create = (token: string) => raw(world.url, token, "POST", "/v1/auth/token/create-orphan", { ttl: "5m", display_name: "orphan", id: null, policies: null, meta: null });
  const made = await create(world.adminToken);
  assert.equal(made.status, 200, JSON.stringify(made.body));
  assert.equal(made.body.auth.orphan, true);
  assert.equal(made.body.auth.lease_duration, 300);
  const orphan: Vault = nodeVault({ endpoint: world.url, token: made.body.auth.client_token });
  const info = (await orphan.tokenLookupSelf()).data;
  assert.deepEqual([info.orphan, info.creation_ttl, info.ttl <= 300, info.renewable], [true, 300, true, true]);
  // Who may not: a member, a service account (even one an AppRole login made), a bad token, no token.
  for (const [who, token] of [["member", world.member.token], ["service account", world.account.token], ["bad token", "cft_not-a-token"], ["no token", ""]] as const) {
    const refusal = await create(token);
    assert.deepEqual([refusal.status, refusal.body.errors], [403, ["permission denied"]], who);
  }
  // A token id is Coffer's to make.
  assert.equal((await raw(world.url, world.adminToken, "POST", "/v1/auth/token/create-orphan", { id: "my-own-token" })).status, 400);
});
