/**
 * The grants a node holds per workspace (--acl-cache) are bounded: turned off
 * (0) or holding fewer workspaces than are used, every access decision still
 * follows the grants as the last change left them (a member without a grant
 * is told the secret is not there: 404).
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { appWithBob } from "./support/cache-app.ts";
import { STORES, type StoreKind } from "./support/stores.ts";

/** Bob a member of 'default' and 'other', each holding a secret 's' he has no grant on. */
async function twoWorkspaces(t: TestContext, store: StoreKind, aclCache: number) {
  const users = await appWithBob(t, store, { aclCache });
  if (!users) return undefined;
  const { admin } = users;
  assert.equal(await admin("POST", "/api/v1/workspaces", { name: "other" }), 201);
  for (const ws of ["default", "other"]) {
    assert.equal(await admin("PUT", `/api/v1/workspaces/${ws}/members/bob`, { role: "member" }), 200);
    assert.equal(await admin("POST", `/api/v1/workspaces/${ws}/secrets`, { name: "s", data: { value: ws } }), 201);
  }
  return users;
}

for (const store of STORES) {
  for (const aclCache of [0, 1]) {
    test(`access follows grant changes across workspaces with --acl-cache ${aclCache} (${store.kind})`, async (t) => {
      const users = await twoWorkspaces(t, store, aclCache);
      if (!users) return;
      const { admin, bob } = users;
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

// A secret's single grant is held as a pair and several as a map (access.service.ts): the level is the highest either way.
for (const store of STORES) {
  test(`a secret's level is the highest of its one or several grants, direct or through a group (${store.kind})`, async (t) => {
    const users = await appWithBob(t, store, {});
    if (!users) return;
    const { admin, bob } = users;
    const ws = "/api/v1/workspaces/default";
    assert.equal(await admin("PUT", `${ws}/members/bob`, { role: "member" }), 200);
    assert.equal(await admin("POST", `${ws}/groups`, { name: "readers" }), 201);
    assert.equal(await admin("PUT", `${ws}/groups/readers/members/user:bob`), 200);
    for (const name of ["one", "two"]) assert.equal(await admin("POST", `${ws}/secrets`, { name, data: { value: name } }), 201);
    const read = (name: string) => bob("GET", `${ws}/secrets/${name}`);
    const update = (name: string) => bob("PUT", `${ws}/secrets/${name}`, { data: { value: "new" } });
    assert.equal(await admin("PUT", `${ws}/secrets/one/grants/group:readers`, { level: "read" }), 200);
    assert.equal(await read("one"), 200);
    assert.equal(await update("one"), 403);
    // A second grant on the same secret, and one on another secret.
    assert.equal(await admin("PUT", `${ws}/secrets/one/grants/user:bob`, { level: "see" }), 200);
    assert.equal(await admin("PUT", `${ws}/secrets/two/grants/user:bob`, { level: "write" }), 200);
    assert.equal(await read("one"), 200);
    assert.equal(await update("one"), 403);
    assert.equal(await admin("PUT", `${ws}/secrets/one/grants/user:bob`, { level: "write" }), 200);
    assert.equal(await update("one"), 200);
    assert.equal(await update("two"), 200);
    assert.equal(await admin("DELETE", `${ws}/secrets/one/grants/user:bob`), 204);
    assert.equal(await update("one"), 403);
    assert.equal(await read("one"), 200);
    assert.equal(await admin("DELETE", `${ws}/groups/readers/members/user:bob`), 200);
    assert.equal(await read("one"), 404);
    assert.equal(await read("two"), 200);
  });
}

// A workspace with more than 100 granted secrets counts for more than one in --acl-cache (access.service.ts):
// here it fills the cache alone, and each workspace's load drops the other's.
for (const store of STORES) {
  test(`access follows grant changes when a workspace weighs more than the whole --acl-cache (${store.kind})`, async (t) => {
    const users = await twoWorkspaces(t, store, 1);
    if (!users) return;
    const { admin, bob } = users;
    for (let i = 0; i < 101; i++) {
      assert.equal(await admin("POST", "/api/v1/workspaces/default/secrets", { name: `g${i}`, data: { value: "v" } }), 201);
      assert.equal(await admin("PUT", `/api/v1/workspaces/default/secrets/g${i}/grants/user:bob`, { level: "read" }), 200);
    }
    const read = (ws: string, name = "s") => bob("GET", `/api/v1/workspaces/${ws}/secrets/${name}`);
    assert.equal(await read("default", "g100"), 200);
    assert.equal(await read("other"), 404);
    assert.equal(await admin("PUT", "/api/v1/workspaces/other/secrets/s/grants/user:bob", { level: "read" }), 200);
    assert.equal(await read("other"), 200);
    assert.equal(await read("default"), 404);
    assert.equal(await read("default", "g0"), 200);
    assert.equal(await admin("DELETE", "/api/v1/workspaces/default/secrets/g0/grants/user:bob"), 204);
    assert.equal(await read("other"), 200);
    assert.equal(await read("default", "g0"), 404);
    assert.equal(await read("default", "g1"), 200);
  });
}
