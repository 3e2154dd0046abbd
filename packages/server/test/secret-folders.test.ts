/**
 * Browsing secret names as folders (GET …/secret-folders), on SQLite and
 * PostgreSQL: one level at a time, each folder with the number of secrets the
 * caller sees in it — counted under the same rules as the list, so a member,
 * a narrowed token or another user's personal secrets never show in a count.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { STORES, type StoreTarget } from "./support/stores.ts";

const WS = "/api/v1/workspaces/default";

async function world(t: TestContext, target: StoreTarget) {
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const as = (token: string) => async (method: "GET" | "POST" | "PUT" | "DELETE", url: string, body?: unknown) => {
    const reply = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: reply.statusCode, body: reply.body ? reply.json() : undefined };
  };
  const admin = as(coffer.bootstrapToken!);
  const userToken = async (username: string, role: string | null) => {
    assert.equal((await admin("POST", "/api/v1/users", { username, password: `${username}-password-1` })).status, 201);
    if (role) assert.equal((await admin("PUT", `${WS}/members/${username}`, { role })).status, 200);
    const login = await app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username, password: `${username}-password-1` } });
    return login.json().token as string;
  };
  return { coffer, admin, as, userToken };
}

const levelOf = (body: { folders: { path: string; secrets: number }[]; secrets: number }) => ({
  folders: Object.fromEntries(body.folders.map((folder) => [folder.path, folder.secrets])),
  secrets: body.secrets,
});

for (const store of STORES) {
  test(`folders one level at a time, with counts that follow what the caller sees (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const { admin, as, userToken } = await world(t, target);
    const names = ["alpha", "beta", "payments/paypal", "payments/stripe/api-key", "payments/stripe/webhook", "payments/stripe/eu/key", "infra/db", "gone/one"];
    for (const name of names) assert.equal((await admin("POST", `${WS}/secrets`, { name, data: { value: "folder-test" } })).status, 201, name);
    // A deleted secret is not counted (the Deleted tab lists it).
    assert.equal((await admin("DELETE", `${WS}/secrets/gone%2Fone`)).status, 204);

    const top = await admin("GET", `${WS}/secret-folders`);
    assert.equal(top.status, 200, JSON.stringify(top.body));
    assert.deepEqual(levelOf(top.body), { folders: { "infra/": 1, "payments/": 4 }, secrets: 2 });
    assert.deepEqual(top.body.folders.map((folder: { path: string }) => folder.path), ["infra/", "payments/"], "by name");
    assert.equal(top.body.truncated, false);
    assert.deepEqual(levelOf((await admin("GET", `${WS}/secret-folders?prefix=payments%2F`)).body), { folders: { "payments/stripe/": 3 }, secrets: 1 });
    assert.deepEqual(levelOf((await admin("GET", `${WS}/secret-folders?prefix=payments%2Fstripe%2F`)).body), { folders: { "payments/stripe/eu/": 1 }, secrets: 2 });
    assert.deepEqual(levelOf((await admin("GET", `${WS}/secret-folders?prefix=nowhere%2F`)).body), { folders: {}, secrets: 0 });
    const first = await admin("GET", `${WS}/secret-folders?limit=1`);
    assert.deepEqual([first.body.folders.length, first.body.folders[0].path, first.body.truncated], [1, "infra/", true]);

    // Bad folders are refused, and change nothing.
    for (const prefix of ["payments", "..%2F", "a%2F%2F", "%2F"]) {
      const bad = await admin("GET", `${WS}/secret-folders?prefix=${prefix}`);
      assert.deepEqual([bad.status, bad.body.error.code], [400, "INVALID_REQUEST"], prefix);
    }

    // A member counts only what was granted to it.
    const member = as(await userToken("mia", "member"));
    assert.deepEqual(levelOf((await member("GET", `${WS}/secret-folders`)).body), { folders: {}, secrets: 0 });
    assert.equal((await admin("PUT", `${WS}/secrets/payments%2Fstripe%2Fwebhook/grants/user:mia`, { level: "read" })).status, 200);
    assert.deepEqual(levelOf((await member("GET", `${WS}/secret-folders`)).body), { folders: { "payments/": 1 }, secrets: 0 });
    assert.deepEqual(levelOf((await member("GET", `${WS}/secret-folders?prefix=payments%2F`)).body), { folders: { "payments/stripe/": 1 }, secrets: 0 });

    // A token narrowed to some names counts only those, even for an administrator.
    const narrowed = (await admin("POST", "/api/v1/auth/token/child", { secrets: ["payments/stripe/*", "alpha"] })).body.token as string;
    assert.deepEqual(levelOf((await as(narrowed)("GET", `${WS}/secret-folders`)).body), { folders: { "payments/": 3 }, secrets: 1 });

    // Personal secrets: each user counts only their own.
    assert.equal((await member("POST", `${WS}/secrets`, { name: "notes/mine", scope: "personal", data: { value: "personal" } })).status, 201);
    assert.deepEqual(levelOf((await member("GET", `${WS}/secret-folders?scope=personal`)).body), { folders: { "notes/": 1 }, secrets: 0 });
    assert.deepEqual(levelOf((await admin("GET", `${WS}/secret-folders?scope=personal`)).body), { folders: {}, secrets: 0 });

    // Not a member: the workspace does not exist for the caller.
    const outsider = as(await userToken("otto", null));
    const refused = await outsider("GET", `${WS}/secret-folders`);
    assert.deepEqual([refused.status, refused.body.error.code], [404, "WORKSPACE_NOT_FOUND"]);
    // No value in any answer.
    assert.ok(!JSON.stringify([top.body, first.body]).includes("folder-test"));
  });
}
