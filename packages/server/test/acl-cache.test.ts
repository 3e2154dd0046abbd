/**
 * The grants a node holds per workspace (--acl-cache) are bounded: turned off
 * (0) or holding fewer workspaces than are used, every access decision still
 * follows the grants as the last change left them (a member without a grant
 * is told the secret is not there: 404).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { STORES } from "./support/stores.ts";

const PASSWORD = "correct horse battery staple";

for (const store of STORES) {
  for (const aclCache of [0, 1]) {
    test(`access follows grant changes across workspaces with --acl-cache ${aclCache} (${store.kind})`, async (t) => {
      const target = await store.open(t);
      if (!target) return;
      const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, aclCache });
      t.after(() => coffer.close());
      const app = await buildApp(coffer);
      t.after(() => app.close());
      const as = (token: string) => async (method: "GET" | "POST" | "PUT" | "DELETE", url: string, body?: object) =>
        (await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body }) })).statusCode;
      const admin = as(coffer.bootstrapToken!);
      assert.equal(await admin("POST", "/api/v1/users", { username: "bob", password: PASSWORD }), 201);
      const login = await app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username: "bob", password: PASSWORD } });
      const bob = as((login.json() as { token: string }).token);
      assert.equal(await admin("POST", "/api/v1/workspaces", { name: "other" }), 201);
      for (const ws of ["default", "other"]) {
        assert.equal(await admin("PUT", `/api/v1/workspaces/${ws}/members/bob`, { role: "member" }), 200);
        assert.equal(await admin("POST", `/api/v1/workspaces/${ws}/secrets`, { name: "s", data: { value: ws } }), 201);
      }
      const read = (ws: string) => bob("GET", `/api/v1/workspaces/${ws}/secrets/s`);
      const grant = (ws: string) => `/api/v1/workspaces/${ws}/secrets/s/grants/user:bob`;
      assert.equal(await read("default"), 404);
      assert.equal(await admin("PUT", grant("default"), { level: "read" }), 200);
      assert.equal(await read("default"), 200);
      assert.equal(await read("other"), 404);
      assert.equal(await admin("PUT", grant("other"), { level: "read" }), 200);
      assert.equal(await read("other"), 200);
      assert.equal(await read("default"), 200);
      assert.equal(await admin("DELETE", grant("default")), 204);
      assert.equal(await read("default"), 404);
      assert.equal(await read("other"), 200);
    });
  }
}
