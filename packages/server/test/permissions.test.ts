/**
 * Every route checks permission. Until users can be created through the API,
 * these tests add users straight into the store and prove the denials.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { openCoffer, type Coffer } from "../src/coffer.ts";
import { newId } from "../src/crypto/generate.ts";
import { mintToken } from "../src/identity/token.service.ts";
import { FULL_SCOPE } from "../src/identity/token-scope.ts";
import { buildApp } from "../src/http/app.ts";
import { STORES } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

async function addUser(coffer: Coffer, options: { role?: string; expiresAt?: number; revoked?: boolean } = {}): Promise<string> {
  const now = Date.now();
  const userId = newId("usr");
  const db = coffer.store.db;
  await db.insertInto("users").values({ id: userId, username: userId, passwordHash: null, isAdmin: 0, disabledAt: null, createdAt: now }).execute();
  if (options.role) {
    const ws = await db.selectFrom("workspaces").select("id").where("name", "=", "default").executeTakeFirstOrThrow();
    await db.insertInto("memberships").values({ workspaceId: ws.id, userId, role: options.role, createdAt: now }).execute();
  }
  const minted = await mintToken(db, { principalId: userId, parentId: null, kind: "api", name: "test", scope: FULL_SCOPE, expiresAt: options.expiresAt ?? null, now });
  if (options.revoked) await db.updateTable("tokens").set({ revokedAt: now }).where("id", "=", minted.info.id).execute();
  return minted.token;
}

async function setup(t: TestContext, kind: (typeof STORES)[number]) {
  const target = await kind.open(t);
  if (!target) return null;
  const coffer = await openCoffer({ dataDir: target.dataDir, databaseUrl: target.databaseUrl, rateLimits: TEST_RATE_LIMITS });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const as = (token: string) => async (method: string, url: string, payload?: unknown) => {
    const reply = await app.inject({ method: method as "GET", url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: reply.statusCode, body: reply.body ? reply.json() : undefined };
  };
  return { coffer, as, admin: as(coffer.bootstrapToken!) };
}

const secrets = "/api/v1/workspaces/default/secrets";

for (const store of STORES) {
  test(`a member without a grant neither sees nor changes shared secrets, nor manages keys or workspaces (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    const { coffer, as, admin } = env;
    const shared = await admin("POST", secrets, { name: "team/db", data: { password: "shared-value" } });
    assert.equal(shared.status, 201);
    const member = as(await addUser(coffer, { role: "member" }));
    const expectations: [string, string, unknown, number, string][] = [
      ["GET", `${secrets}/team%2Fdb`, undefined, 404, "SECRET_NOT_FOUND"],
      ["GET", `${secrets}/${shared.body.id}`, undefined, 404, "SECRET_NOT_FOUND"],
      ["GET", `${secrets}/team%2Fdb/versions`, undefined, 404, "SECRET_NOT_FOUND"],
      ["PUT", `${secrets}/team%2Fdb`, { data: { password: "x" } }, 403, "ACCESS_DENIED"],
      ["PATCH", `${secrets}/team%2Fdb`, { data: { password: "x" } }, 404, "SECRET_NOT_FOUND"],
      ["DELETE", `${secrets}/team%2Fdb`, undefined, 404, "SECRET_NOT_FOUND"],
      ["POST", `${secrets}/team%2Fdb/rollback`, { version: 1 }, 404, "SECRET_NOT_FOUND"],
      ["POST", secrets, { name: "new-shared", data: { k: "v" } }, 403, "ACCESS_DENIED"],
      ["POST", "/api/v1/sys/keys/rotate", undefined, 403, "ACCESS_DENIED"],
      ["GET", "/api/v1/sys/keys", undefined, 403, "ACCESS_DENIED"],
      ["POST", "/api/v1/workspaces", { name: "mine" }, 403, "ACCESS_DENIED"],
      ["PATCH", "/api/v1/workspaces/default", { maxVersions: 2 }, 403, "ACCESS_DENIED"],
    ];
    for (const [method, url, body, status, code] of expectations) {
      const reply = await member(method, url, body);
      assert.equal(reply.status, status, `${method} ${url}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.error.code, code, `${method} ${url}`);
    }
    assert.deepEqual((await member("GET", secrets)).body.items, []);
    assert.equal((await admin("GET", `${secrets}/team%2Fdb`)).body.version, 1, "nothing changed");
  });

  test(`personal secrets are readable by their owner only, administrators included (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    const { coffer, as, admin } = env;
    const member = as(await addUser(coffer, { role: "member" }));
    const mine = await member("POST", secrets, { name: "my-key", scope: "personal", data: { k: "personal-value" } });
    assert.equal(mine.status, 201);
    assert.equal((await member("GET", `${secrets}/my-key?scope=personal`)).body.data.k, "personal-value");
    for (const url of [`${secrets}/${mine.body.id}`, `${secrets}/my-key?scope=personal`, `${secrets}/${mine.body.id}/versions`]) {
      const reply = await admin("GET", url);
      assert.equal(reply.status, 404, url);
      assert.equal(reply.body.error.code, "SECRET_NOT_FOUND");
    }
    assert.deepEqual((await admin("GET", `${secrets}?scope=personal`)).body.items, []);
  });

  test(`outsiders, revoked and expired tokens are turned away (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    const { coffer, as } = env;
    const outsider = as(await addUser(coffer));
    const reply = await outsider("GET", secrets);
    assert.equal(reply.status, 404);
    assert.equal(reply.body.error.code, "WORKSPACE_NOT_FOUND");
    assert.deepEqual((await outsider("GET", "/api/v1/workspaces")).body.workspaces, []);
    for (const token of [await addUser(coffer, { role: "owner", revoked: true }), await addUser(coffer, { role: "owner", expiresAt: Date.now() - 1000 })]) {
      const denied = await as(token)("GET", secrets);
      assert.equal(denied.status, 401);
      assert.equal(denied.body.error.code, "UNAUTHENTICATED");
    }
  });
}
