/**
 * The grants a node holds per workspace (--acl-cache) are bounded: turned off
 * (0) or holding fewer workspaces than are used, every access decision still
 * follows the grants as the last change left them (a member without a grant
 * is told the secret is not there: 404).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { appWithBob } from "./support/cache-app.ts";
import { STORES } from "./support/stores.ts";

for (const store of STORES) {
  for (const aclCache of [0, 1]) {
    test(`access follows grant changes across workspaces with --acl-cache ${aclCache} (${store.kind})`, async (t) => {
      const users = await appWithBob(t, store, { aclCache });
      if (!users) return;
      const { admin, bob } = users;
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
