/**
 * The workspaces and roles a node holds (--workspace-cache, --role-cache) are
 * bounded: turned off (0) or holding fewer than are used, every request still
 * sees the memberships as the last change left them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { appWithBob } from "./support/cache-app.ts";
import { STORES } from "./support/stores.ts";

for (const store of STORES) {
  for (const size of [0, 1]) {
    test(`membership changes across workspaces take effect with --workspace-cache ${size} --role-cache ${size} (${store.kind})`, async (t) => {
      const users = await appWithBob(t, store, { workspaceCache: size, roleCache: size });
      if (!users) return;
      const { admin, bob } = users;
      assert.equal(await admin("POST", "/api/v1/workspaces", { name: "other" }), 201);
      const list = (ws: string) => bob("GET", `/api/v1/workspaces/${ws}/secrets`);
      const member = (ws: string) => `/api/v1/workspaces/${ws}/members/bob`;
      assert.notEqual(await list("other"), 200);
      assert.equal(await admin("PUT", member("other"), { role: "member" }), 200);
      assert.equal(await list("other"), 200);
      assert.equal(await admin("PUT", member("default"), { role: "member" }), 200);
      assert.equal(await list("default"), 200);
      assert.equal(await list("other"), 200);
      assert.equal(await admin("DELETE", member("other")), 204);
      assert.notEqual(await list("other"), 200);
      assert.equal(await list("default"), 200);
    });
  }
}
