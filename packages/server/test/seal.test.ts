/**
 * Sealing: a Shamir server starts sealed and answers SEALED until K shares
 * unseal it; wrong, mistyped and duplicate shares are refused; sealing drops
 * the keys and every decrypted cache; rekey and root-key rotation give new
 * shares that work while the old ones stop working; the key file rotates in
 * place; each PostgreSQL node is unsealed on its own.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import { openCoffer, type Coffer, type CofferOptions } from "../src/coffer.ts";
import { Keyring, RootKeyMismatchError } from "../src/crypto/keyring.ts";
import { ROOT_KEY_FILE, stageRootKeyFile, NEXT_ROOT_KEY_FILE } from "../src/crypto/root-key.ts";
import { combineShares, decodeShare, splitRootKey } from "../src/crypto/shamir.ts";
import { buildApp } from "../src/http/app.ts";
import { listDataKeys } from "../src/keys/keys.repository.ts";
import { dumpTables } from "./support/postgres.ts";
import { STORES, type StoreTarget } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

interface Node {
  coffer: Coffer;
  app: FastifyInstance;
  call(method: string, url: string, body?: unknown, token?: string, address?: string): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

async function node(t: TestContext, target: StoreTarget, options: Partial<CofferOptions> = {}): Promise<Node> {
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, ...options });
  const app = await buildApp(coffer);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    await coffer.close();
  };
  t.after(close);
  return {
    coffer,
    app,
    close,
    call: async (method, url, body, token, address) => {
      const reply = await app.inject({
        method: method as "GET",
        url,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(body === undefined ? {} : { payload: body as object }),
        ...(address ? { remoteAddress: address } : {}),
      });
      return { status: reply.statusCode, body: reply.body ? reply.json() : undefined };
    },
  };
}

const shamir = (t: TestContext, target: StoreTarget, options: Partial<CofferOptions> = {}) => node(t, target, { ...options, seal: "shamir" });
const secret = (name: string) => `/api/v1/workspaces/default/secrets/${encodeURIComponent(name)}`;

async function unsealWith(n: Node, shares: string[]): Promise<any> {
  let last: any;
  for (const share of shares) {
    const reply = await n.call("POST", "/api/v1/sys/unseal", { share });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    last = reply.body;
  }
  return last;
}

/** Shares that pass every format check (set, checksum) and rebuild some other key: what a forger could send. */
async function forged(of: string, count: number): Promise<string[]> {
  return splitRootKey(randomBytes(32), count, 2, decodeShare(of).set);
}

function expectError(reply: { status: number; body: any }, status: number, code: string, message?: RegExp): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.equal(reply.body.error.code, code);
  if (message) assert.match(reply.body.error.message, message);
}

for (const store of STORES) {
  test(`a Shamir server starts sealed, init prints its shares once, and K distinct right shares unseal it (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    let n = await shamir(t, target);
    assert.deepEqual((await n.call("GET", "/api/v1/sys/seal-status")).body, { sealed: true, type: "shamir", initialized: false, threshold: 0, shares: 0, progress: 0 });
    expectError(await n.call("GET", "/api/v1/workspaces"), 503, "SEALED", /not initialised/);
    expectError(await n.call("POST", "/api/v1/sys/unseal", { share: "cfs_x" }), 400, "INVALID_REQUEST", /not initialised/);
    assert.equal(n.coffer.bootstrapToken, null, "a Shamir server prints no token at start: init returns it");
    assert.ok(!existsSync(join(target.dataDir, ROOT_KEY_FILE)), "no key file is made");

    expectError(await n.call("POST", "/api/v1/sys/init", { shares: 2, threshold: 3 }), 400, "INVALID_REQUEST", /threshold ≤ shares/);
    expectError(await n.call("POST", "/api/v1/sys/init", { shares: 5, threshold: 1 }), 400, "INVALID_REQUEST");
    const init = await n.call("POST", "/api/v1/sys/init", { shares: 5, threshold: 3 });
    assert.equal(init.status, 200, JSON.stringify(init.body));
    const { shares, bootstrapToken: token } = init.body as { shares: string[]; bootstrapToken: string };
    assert.equal(shares.length, 5);
    assert.equal(new Set(shares).size, 5);
    for (const share of shares) assert.match(share, /^cfs_[A-Za-z0-9_-]{56}$/);
    assert.match(token, /^cft_/);
    expectError(await n.call("POST", "/api/v1/sys/init", { shares: 5, threshold: 3 }), 400, "INVALID_REQUEST", /initialised already/);

    // Initialised, still sealed, as Vault leaves it: the holders prove their shares work.
    assert.deepEqual((await n.call("GET", "/api/v1/sys/seal-status")).body, { sealed: true, type: "shamir", initialized: true, threshold: 3, shares: 5, progress: 0 });
    expectError(await n.call("GET", "/api/v1/workspaces", undefined, token), 503, "SEALED", /3 shares/);
    const health = await n.call("GET", "/api/v1/sys/health");
    assert.equal(health.status, 503);
    assert.equal(health.body.sealed, true);

    // One share, then a duplicate, a mistyped one and an unknown format: refused, progress kept.
    assert.equal((await unsealWith(n, [shares[0]!])).progress, 1);
    expectError(await n.call("POST", "/api/v1/sys/unseal", { share: shares[0] }), 400, "INVALID_REQUEST", /given already/);
    const typo = shares[1]!.slice(0, 20) + (shares[1]![20] === "A" ? "B" : "A") + shares[1]!.slice(21);
    // (Each mistake from its own address: three from one are throttled, as the throttle test shows.)
    expectError(await n.call("POST", "/api/v1/sys/unseal", { share: typo }, undefined, "10.1.0.1"), 400, "INVALID_REQUEST", /mistyped|incomplete/);
    expectError(await n.call("POST", "/api/v1/sys/unseal", { share: "not a share" }, undefined, "10.1.0.2"), 400, "INVALID_REQUEST", /cfs_/);
    assert.equal((await n.call("GET", "/api/v1/sys/seal-status")).body.progress, 1);

    // A forged share completes the threshold: the rebuilt key opens nothing, the progress is reset.
    assert.equal((await unsealWith(n, [shares[1]!])).progress, 2);
    const [fake] = await forged(shares[0]!, 2);
    expectError(await n.call("POST", "/api/v1/sys/unseal", { share: fake }, undefined, "10.1.0.3"), 400, "INVALID_REQUEST", /do not rebuild the root key/);
    const afterWrong = (await n.call("GET", "/api/v1/sys/seal-status")).body;
    assert.equal(afterWrong.sealed, true);
    assert.equal(afterWrong.progress, 0);

    // reset: true discards progress.
    assert.equal((await unsealWith(n, [shares[4]!])).progress, 1);
    const reset = await n.call("POST", "/api/v1/sys/unseal", { reset: true });
    assert.equal(reset.status, 200);
    assert.equal(reset.body.progress, 0);
    expectError(await n.call("POST", "/api/v1/sys/unseal", {}), 400, "INVALID_REQUEST");

    // Any three distinct right shares.
    const unsealed = await unsealWith(n, [shares[4]!, shares[2]!, shares[1]!]);
    assert.deepEqual(unsealed, { sealed: false, type: "shamir", initialized: true, threshold: 3, shares: 5, progress: 0 });
    assert.equal((await n.call("GET", "/api/v1/sys/health")).status, 200);
    const created = await n.call("POST", "/api/v1/workspaces/default/secrets", { name: "db", data: { password: "pw-1" } }, token);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // A share after the unseal changes nothing.
    assert.equal((await n.call("POST", "/api/v1/sys/unseal", { share: shares[0] })).body.sealed, false);

    // Restart: sealed again, every API route answers SEALED, K shares open it and the data is there.
    await n.close();
    n = await shamir(t, target);
    assert.equal((await n.call("GET", "/api/v1/sys/seal-status")).body.sealed, true);
    for (const [method, url] of [["GET", secret("db")], ["GET", "/api/v1/users"], ["POST", "/api/v1/auth/login"], ["GET", "/api/v1/sys/keys"], ["GET", "/api/v1/nowhere"]] as const) {
      expectError(await n.call(method, url, undefined, token), 503, "SEALED");
    }
    await unsealWith(n, shares.slice(0, 3));
    const read = await n.call("GET", secret("db"), undefined, token);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.data, { password: "pw-1" });
    await n.close();

    // What a copy of the store shows: neither the root key nor any share.
    const rootKey = await combineShares(shares.slice(0, 3).map(decodeShare));
    const dump = target.databaseUrl
      ? await dumpTables(target.databaseUrl)
      : ["coffer.db", "coffer.db-wal"].map((file) => join(target.dataDir, file)).filter(existsSync).map((file) => readFileSync(file).toString("latin1")).join("");
    for (const needle of [rootKey.toString("hex"), rootKey.toString("base64"), rootKey.toString("latin1"), ...shares, ...shares.map((share) => share.slice(4, 30))]) {
      assert.ok(!dump.includes(needle), "the store holds key material");
    }

    // A Shamir store refuses the key file and COFFER_ROOT_KEY, and makes no key file.
    await assert.rejects(openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl }), /split into Shamir shares: start the server with --seal shamir/);
    await assert.rejects(openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, seal: "shamir", rootKey: randomBytes(32).toString("base64") }), /takes no COFFER_ROOT_KEY/);
    assert.ok(!existsSync(join(target.dataDir, ROOT_KEY_FILE)));
  });

  test(`sealing drops the keys and every decrypted cache; reads racing the seal never serve after it (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const n = await shamir(t, target);
    const { shares, bootstrapToken: token } = (await n.call("POST", "/api/v1/sys/init", { shares: 3, threshold: 2 })).body;
    await unsealWith(n, shares.slice(0, 2));
    for (const name of ["hot", "tampered"]) {
      assert.equal((await n.call("POST", "/api/v1/workspaces/default/secrets", { name, data: { value: `${name}-value` } }, token)).status, 201);
      // Read once: the decrypted value is now in the read cache.
      assert.equal((await n.call("GET", secret(name), undefined, token)).body.data.value, `${name}-value`);
    }
    expectError(await n.call("POST", "/api/v1/sys/seal", undefined, "cft_" + "A".repeat(49)), 401, "UNAUTHENTICATED");

    // Reads in flight while the seal happens: each one is the right value or SEALED, never anything else.
    const reads = Array.from({ length: 200 }, (_, i) => (i === 100 ? n.call("POST", "/api/v1/sys/seal", undefined, token) : n.call("GET", secret("hot"), undefined, token)));
    const replies = await Promise.all(reads);
    assert.equal(replies[100]!.status, 204, JSON.stringify(replies[100]!.body));
    for (const reply of replies.filter((_, i) => i !== 100)) {
      if (reply.status === 200) assert.equal(reply.body.data.value, "hot-value");
      else expectError(reply, 503, "SEALED");
    }
    expectError(await n.call("GET", secret("hot"), undefined, token), 503, "SEALED");
    assert.equal((await n.call("GET", "/api/v1/sys/seal-status")).body.sealed, true);
    assert.equal(n.coffer.keys.sealed, true);
    expectError(await n.call("POST", "/api/v1/sys/seal", undefined, token), 503, "SEALED");

    // The cache went with the keys: a ciphertext altered while sealed is read from the store after the unseal, and fails.
    const row = await n.coffer.store.db.selectFrom("secretVersions").innerJoin("secrets", "secrets.id", "secretVersions.secretId").select(["secretVersions.secretId", "secretVersions.ciphertext"]).where("secrets.name", "=", "tampered").executeTakeFirstOrThrow();
    const altered = Buffer.from(row.ciphertext);
    altered[altered.length - 1]! ^= 1;
    await n.coffer.store.db.updateTable("secretVersions").set({ ciphertext: altered }).where("secretId", "=", row.secretId).execute();
    await unsealWith(n, [shares[2]!, shares[0]!]);
    expectError(await n.call("GET", secret("tampered"), undefined, token), 500, "INTEGRITY_ERROR");
    assert.equal((await n.call("GET", secret("hot"), undefined, token)).body.data.value, "hot-value");

    // Sealing is for instance administrators.
    const user = await n.call("POST", "/api/v1/users", { username: "bob", password: "a long passphrase" }, token);
    assert.equal(user.status, 201);
    const bob = (await n.call("POST", "/api/v1/auth/login", { username: "bob", password: "a long passphrase" })).body.token;
    expectError(await n.call("POST", "/api/v1/sys/seal", undefined, bob), 403, "ACCESS_DENIED");
    expectError(await n.call("POST", "/api/v1/sys/rekey", { shares: 3, threshold: 2, currentShares: shares.slice(0, 2) }, bob), 403, "ACCESS_DENIED");
    expectError(await n.call("POST", "/api/v1/sys/root-key/rotate", { currentShares: shares.slice(0, 2) }, bob), 403, "ACCESS_DENIED");
    assert.equal(n.coffer.keys.sealed, false);
  });

  test(`rekey gives new shares that unseal while the old ones do not; root-key rotation keeps every secret and retires the old key (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const n = await shamir(t, target);
    const { shares: first, bootstrapToken: token } = (await n.call("POST", "/api/v1/sys/init", { shares: 3, threshold: 2 })).body as { shares: string[]; bootstrapToken: string };
    await unsealWith(n, first.slice(0, 2));
    for (let i = 0; i < 5; i++) {
      assert.equal((await n.call("POST", "/api/v1/workspaces/default/secrets", { name: `s${i}`, data: { value: `v${i}` } }, token)).status, 201);
    }

    // Rekey needs the key holders: too few, forged, duplicated and unknown-format current shares are refused.
    const rekey = (body: object) => n.call("POST", "/api/v1/sys/rekey", { shares: 4, threshold: 3, ...body }, token);
    expectError(await rekey({ currentShares: [first[0]] }), 400, "INVALID_REQUEST", /give 2 current shares/);
    expectError(await rekey({ currentShares: await forged(first[0]!, 2) }), 400, "INVALID_REQUEST", /do not rebuild the root key/);
    expectError(await rekey({ currentShares: [first[0], first[0]] }), 400, "INVALID_REQUEST", /given twice/);
    expectError(await rekey({ currentShares: [first[0], "cfs_nonsense"] }), 400, "INVALID_REQUEST", /current share 2/);
    expectError(await rekey({ shares: 2, currentShares: first.slice(0, 2) }), 400, "INVALID_REQUEST");
    const rekeyed = await rekey({ currentShares: [first[2], first[1]] });
    assert.equal(rekeyed.status, 200, JSON.stringify(rekeyed.body));
    const second = rekeyed.body.shares as string[];
    assert.equal(second.length, 4);
    assert.equal(rekeyed.body.threshold, 3);
    assert.equal(n.coffer.keys.sealed, false, "rekeying does not seal");
    assert.deepEqual((await n.call("GET", "/api/v1/sys/seal-status")).body, { sealed: false, type: "shamir", initialized: true, threshold: 3, shares: 4, progress: 0 });
    // The same root key: the old shares combine to what the new ones do.
    assert.ok((await combineShares(first.slice(0, 2).map(decodeShare))).equals(await combineShares(second.slice(1).map(decodeShare))));

    assert.equal((await n.call("POST", "/api/v1/sys/seal", undefined, token)).status, 204);
    expectError(await n.call("POST", "/api/v1/sys/unseal", { share: first[0] }), 400, "INVALID_REQUEST", /older split/);
    assert.equal((await unsealWith(n, [second[3]!, second[0]!])).sealed, true, "the new threshold is 3");
    assert.equal((await unsealWith(n, [second[1]!])).sealed, false);

    // Root-key rotation: the old root key's shares are refused, and the key itself opens nothing.
    const oldRoot = await combineShares(second.slice(0, 3).map(decodeShare));
    const wrappedBefore = await listDataKeys(n.coffer.store.db);
    expectError(await n.call("POST", "/api/v1/sys/root-key/rotate", {}, token), 400, "INVALID_REQUEST", /give 3 current shares/);
    expectError(await n.call("POST", "/api/v1/sys/root-key/rotate", { currentShares: second.slice(0, 2) }, token), 400, "INVALID_REQUEST");
    const rotated = await n.call("POST", "/api/v1/sys/root-key/rotate", { currentShares: second.slice(1), shares: 3, threshold: 2 }, token);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(rotated.body.type, "shamir");
    const third = rotated.body.shares as string[];
    assert.equal(third.length, 3);
    const wrappedAfter = await listDataKeys(n.coffer.store.db);
    assert.deepEqual(wrappedAfter.map((k) => k.version), wrappedBefore.map((k) => k.version), "the same data keys, wrapped anew");
    assert.throws(() => new Keyring(oldRoot).load(wrappedAfter), RootKeyMismatchError);
    const newRoot = await combineShares(third.slice(0, 2).map(decodeShare));
    assert.ok(!newRoot.equals(oldRoot));
    new Keyring(newRoot).load(wrappedAfter);
    for (let i = 0; i < 5; i++) assert.equal((await n.call("GET", secret(`s${i}`), undefined, token)).body.data.value, `v${i}`);
    // Data keys added after the rotation are wrapped under the new root key.
    assert.equal((await n.call("POST", "/api/v1/sys/keys/rotate", undefined, token)).status, 202);

    await n.close();
    const again = await shamir(t, target);
    expectError(await again.call("POST", "/api/v1/sys/unseal", { share: second[0] }), 400, "INVALID_REQUEST", /older split/);
    await unsealWith(again, [third[2]!, third[0]!]);
    for (let i = 0; i < 5; i++) assert.equal((await again.call("GET", secret(`s${i}`), undefined, token)).body.data.value, `v${i}`);
  });

  test(`the key file rotates in place: 0600, atomically, every secret readable, the old key opens nothing (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    let n = await node(t, target);
    const token = n.coffer.bootstrapToken!;
    assert.equal((await n.call("POST", "/api/v1/workspaces/default/secrets", { name: "kept", data: { value: "kept-value" } }, token)).status, 201);
    const path = join(target.dataDir, ROOT_KEY_FILE);
    const before = readFileSync(path, "utf8");
    assert.deepEqual((await n.call("GET", "/api/v1/sys/seal-status")).body, { sealed: false, type: "file", initialized: true, threshold: 1, shares: 1, progress: 0 });
    expectError(await n.call("POST", "/api/v1/sys/root-key/rotate", { currentShares: ["cfs_x"] }, token), 400, "INVALID_REQUEST", /no shares/);
    const rotated = await n.call("POST", "/api/v1/sys/root-key/rotate", undefined, token);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.deepEqual(rotated.body, { type: "file" });
    const after = readFileSync(path, "utf8");
    assert.notEqual(after, before);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(!existsSync(join(target.dataDir, NEXT_ROOT_KEY_FILE)));
    assert.equal((await n.call("GET", secret("kept"), undefined, token)).body.data.value, "kept-value");
    assert.equal((await n.call("POST", "/api/v1/workspaces/default/secrets", { name: "later", data: { value: "later-value" } }, token)).status, 201);
    await n.close();

    await assert.rejects(openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, rootKey: before.trim() }), RootKeyMismatchError);
    await assert.rejects(openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, seal: "shamir" }), /not Shamir shares/);
    n = await node(t, target);
    for (const name of ["kept", "later"]) assert.equal((await n.call("GET", secret(name), undefined, token)).body.data.value, `${name}-value`);

    // A crash after the store committed but before the rename: the next start finishes the rotation.
    const staged = randomBytes(32);
    stageRootKeyFile(target.dataDir, staged);
    await n.coffer.keys.rotateRootKey(staged, async () => {});
    await n.close();
    n = await node(t, target);
    assert.equal(readFileSync(path, "utf8").trim(), staged.toString("base64"));
    assert.ok(!existsSync(join(target.dataDir, NEXT_ROOT_KEY_FILE)));
    assert.equal((await n.call("GET", secret("kept"), undefined, token)).body.data.value, "kept-value");

    // A crash before the store committed: the staged key opens nothing and is thrown away.
    stageRootKeyFile(target.dataDir, randomBytes(32));
    await n.close();
    n = await node(t, target);
    assert.equal(readFileSync(path, "utf8").trim(), staged.toString("base64"));
    assert.ok(!existsSync(join(target.dataDir, NEXT_ROOT_KEY_FILE)));
    assert.equal((await n.call("GET", secret("later"), undefined, token)).body.data.value, "later-value");
  });

  test(`COFFER_ROOT_KEY: rotation over HTTP explains the variable; COFFER_ROOT_KEY_PREVIOUS re-wraps on start (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const oldKey = randomBytes(32).toString("base64");
    let n = await node(t, target, { rootKey: oldKey });
    const token = n.coffer.bootstrapToken!;
    assert.equal((await n.call("POST", "/api/v1/workspaces/default/secrets", { name: "env", data: { value: "env-value" } }, token)).status, 201);
    assert.equal((await n.call("GET", "/api/v1/sys/seal-status")).body.type, "env");
    expectError(await n.call("POST", "/api/v1/sys/root-key/rotate", undefined, token), 400, "INVALID_REQUEST", /COFFER_ROOT_KEY_PREVIOUS/);
    expectError(await n.call("POST", "/api/v1/sys/seal", undefined, token), 400, "INVALID_REQUEST", /never sealed/);
    await n.close();

    const newKey = randomBytes(32).toString("base64");
    await assert.rejects(openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, rootKey: newKey }), RootKeyMismatchError);
    n = await node(t, target, { rootKey: newKey, previousRootKey: oldKey });
    assert.equal((await n.call("GET", secret("env"), undefined, token)).body.data.value, "env-value");
    await n.close();
    n = await node(t, target, { rootKey: newKey });
    assert.equal((await n.call("GET", secret("env"), undefined, token)).body.data.value, "env-value");
    await n.close();
    await assert.rejects(openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, rootKey: oldKey }), RootKeyMismatchError);
  });
}

test("wrong unseal shares from one address are throttled; other addresses are not", async (t) => {
  const target = await STORES[0]!.open(t);
  let now = Date.now();
  const n = await shamir(t, target!, { clock: () => now });
  const { shares } = (await n.call("POST", "/api/v1/sys/init", { shares: 3, threshold: 2 })).body as { shares: string[] };
  const attacker = "10.0.0.66";
  for (let i = 0; i < 3; i++) expectError(await n.call("POST", "/api/v1/sys/unseal", { share: "cfs_junk" }, undefined, attacker), 400, "INVALID_REQUEST");
  const limited = await n.app.inject({ method: "POST", url: "/api/v1/sys/unseal", payload: { share: shares[0] }, remoteAddress: attacker });
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().error.code, "RATE_LIMITED");
  assert.equal(limited.headers["retry-after"], "1");
  assert.equal((await n.call("GET", "/api/v1/sys/seal-status")).body.progress, 0, "a throttled share is not taken");
  // The key holders elsewhere carry on.
  assert.equal((await n.call("POST", "/api/v1/sys/unseal", { share: shares[0] }, undefined, "10.0.0.1")).body.progress, 1);
  now += 1000;
  expectError(await n.call("POST", "/api/v1/sys/unseal", { share: "cfs_junk" }, undefined, attacker), 400, "INVALID_REQUEST");
  const longer = await n.app.inject({ method: "POST", url: "/api/v1/sys/unseal", payload: { share: "cfs_junk" }, remoteAddress: attacker });
  assert.equal(longer.headers["retry-after"], "2", "the wait doubles");
  assert.equal((await n.call("POST", "/api/v1/sys/unseal", { share: shares[1] }, undefined, "10.0.0.2")).body.sealed, false);
});

test("two PostgreSQL nodes are unsealed separately; a root-key rotation on one seals the other", async (t) => {
  const target = await STORES[1]!.open(t);
  if (!target) return;
  const a = await shamir(t, target);
  const b = await shamir(t, { ...target, dataDir: join(target.dataDir, "b") });
  const { shares, bootstrapToken: token } = (await a.call("POST", "/api/v1/sys/init", { shares: 3, threshold: 2 })).body as { shares: string[]; bootstrapToken: string };
  expectError(await b.call("POST", "/api/v1/sys/init", { shares: 3, threshold: 2 }), 400, "INVALID_REQUEST", /initialised already/);
  await waitFor(async () => (await b.call("GET", "/api/v1/sys/seal-status")).body.initialized === true, "node b sees the init");
  assert.equal((await b.call("GET", "/api/v1/sys/seal-status")).body.threshold, 2);

  await unsealWith(a, shares.slice(0, 2));
  assert.equal((await a.call("POST", "/api/v1/workspaces/default/secrets", { name: "shared", data: { value: "one" } }, token)).status, 201);
  expectError(await b.call("GET", secret("shared"), undefined, token), 503, "SEALED");
  assert.equal((await b.call("POST", "/api/v1/sys/unseal", { share: shares[2] })).body.progress, 1, "progress is per node");
  assert.equal((await a.call("GET", "/api/v1/sys/seal-status")).body.progress, 0);
  await unsealWith(b, [shares[0]!]);
  assert.equal((await b.call("GET", secret("shared"), undefined, token)).body.data.value, "one");

  // Sealing one node leaves the other serving.
  assert.equal((await a.call("POST", "/api/v1/sys/seal", undefined, token)).status, 204);
  expectError(await a.call("GET", secret("shared"), undefined, token), 503, "SEALED");
  assert.equal((await b.call("GET", secret("shared"), undefined, token)).body.data.value, "one");
  await unsealWith(a, shares.slice(1));

  // A rekey on one node shows on the other; a root-key rotation makes the other seal itself.
  const rekeyed = (await a.call("POST", "/api/v1/sys/rekey", { shares: 4, threshold: 2, currentShares: shares.slice(0, 2) }, token)).body.shares as string[];
  await waitFor(async () => (await b.call("GET", "/api/v1/sys/seal-status")).body.shares === 4, "node b sees the rekey");
  assert.equal(b.coffer.keys.sealed, false);
  const rotated = (await a.call("POST", "/api/v1/sys/root-key/rotate", { currentShares: rekeyed.slice(0, 2) }, token)).body.shares as string[];
  await waitFor(async () => b.coffer.keys.sealed, "node b seals itself");
  expectError(await b.call("GET", secret("shared"), undefined, token), 503, "SEALED");
  assert.equal((await a.call("GET", secret("shared"), undefined, token)).body.data.value, "one");
  expectError(await b.call("POST", "/api/v1/sys/unseal", { share: rekeyed[0] }), 400, "INVALID_REQUEST", /older split/);
  await unsealWith(b, rotated.slice(1, 3));
  assert.equal((await b.call("GET", secret("shared"), undefined, token)).body.data.value, "one");
});

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(25);
  }
  assert.fail(`timed out waiting until ${what}`);
}
