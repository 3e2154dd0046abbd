/**
 * Per-version lifecycle and per-secret settings in the core and the native
 * API (through the SDK), on both stores: delete, undelete and destroy
 * versions; casRequired, maxVersions, deleteVersionAfter and custom
 * metadata; a deleted or destroyed version is never served, cached or not.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Coffer, CofferError } from "../../sdk/src/index.ts";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { STORES } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

for (const store of STORES) {
  test(`versions are deleted, undeleted and destroyed; settings hold per secret (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    let offset = 0;
    const core = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, clock: () => Date.now() + offset });
    t.after(() => core.close());
    const app = await buildApp(core);
    t.after(() => app.close());
    const addr = await app.listen({ host: "127.0.0.1", port: 0 });
    const sdk = new Coffer({ addr, token: core.bootstrapToken!, workspace: "default" });
    const secrets = sdk.secrets;

    await secrets.create("db", { password: "lifecycle-v1" });
    await secrets.update("db", { password: "lifecycle-v2" });
    await secrets.update("db", { password: "lifecycle-v3" });
    assert.equal((await secrets.get("db")).data.password, "lifecycle-v3"); // now cached

    // Deleting the current version: never served again, from the cache or the store; older versions stay readable.
    const afterDelete = await secrets.deleteVersions("db");
    assert.ok(afterDelete.find((v) => v.version === 3)?.deletedAt);
    await rejectsWith(secrets.get("db"), "VERSION_NOT_FOUND");
    await rejectsWith(secrets.getMany(["db"]), "VERSION_NOT_FOUND");
    assert.equal((await secrets.get("db", { version: 2 })).data.password, "lifecycle-v2");
    assert.ok((await secrets.list()).some((item) => item.name === "db"), "the secret still lists");
    await secrets.undeleteVersions("db", [3]);
    assert.equal((await secrets.get("db")).data.password, "lifecycle-v3");

    // Destroy: the value is gone for good, the metadata stays; undelete cannot bring it back.
    await secrets.destroyVersions("db", [1]);
    await rejectsWith(secrets.get("db", { version: 1 }), "VERSION_NOT_FOUND");
    await secrets.undeleteVersions("db", [1]);
    await rejectsWith(secrets.get("db", { version: 1 }), "VERSION_NOT_FOUND");
    await rejectsWith(secrets.rollback("db", 1), "VERSION_NOT_FOUND");
    const metadata = await secrets.metadata("db");
    assert.deepEqual(metadata.versions.map((v) => [v.version, v.destroyed]), [[3, false], [2, false], [1, true]]);
    assert.equal(metadata.oldestVersion, 1);
    // casRequired: a write without cas is refused, one with it goes through.
    await secrets.updateMetadata("db", { casRequired: true, customMetadata: { owner: "platform" } });
    await rejectsWith(secrets.update("db", { password: "no-cas" }), "INVALID_REQUEST");
    await rejectsWith(secrets.update("db", { password: "old-cas" }, { cas: 2 }), "VERSION_CONFLICT");
    await secrets.update("db", { password: "lifecycle-v4" }, { cas: 3 });
    assert.deepEqual((await secrets.metadata("db")).customMetadata, { owner: "platform" });

    // maxVersions per secret: older versions are pruned on the next write.
    await secrets.updateMetadata("db", { casRequired: false, maxVersions: 2 });
    await secrets.update("db", { password: "lifecycle-v5" });
    assert.deepEqual((await secrets.versions("db")).map((v) => v.version), [5, 4]);

    // deleteVersionAfter: a new version is deleted once its time has passed, even while it sits in the cache.
    await secrets.updateMetadata("db", { deleteVersionAfter: 60 });
    await secrets.update("db", { password: "lifecycle-v6" });
    assert.equal((await secrets.get("db")).data.password, "lifecycle-v6");
    offset += 61_000;
    await rejectsWith(secrets.get("db"), "VERSION_NOT_FOUND");
    assert.ok((await secrets.metadata("db")).versions[0]?.deletedAt);

    // Bad input changes nothing.
    const before = await secrets.metadata("db");
    await rejectsWith(secrets.updateMetadata("db", { maxVersions: 0 }), "INVALID_REQUEST");
    await rejectsWith(secrets.updateMetadata("db", { customMetadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) }), "INVALID_REQUEST");
    await rejectsWith(secrets.deleteVersions("db", []), "INVALID_REQUEST");
    assert.deepEqual(await secrets.metadata("db"), before);

    // Workspace defaults: casRequired for every secret, and deleting a workspace takes its secrets with it.
    const patched = await sdk.call<{ casRequired: boolean }>("readWorkspace", { workspace: "default" });
    assert.equal(patched.casRequired, false);
    await sdk.call("createSecret", {}, { body: { name: "other", data: { value: "x" } } });
    await fetch(`${addr}/api/v1/workspaces/default`, { method: "PATCH", headers: { authorization: `Bearer ${core.bootstrapToken}`, "content-type": "application/json" }, body: JSON.stringify({ casRequired: true }) });
    await rejectsWith(secrets.update("other", { value: "y" }), "INVALID_REQUEST");
    await fetch(`${addr}/api/v1/workspaces`, { method: "POST", headers: { authorization: `Bearer ${core.bootstrapToken}`, "content-type": "application/json" }, body: JSON.stringify({ name: "doomed" }) });
    const doomed = new Coffer({ addr, token: core.bootstrapToken!, workspace: "doomed" });
    await doomed.secrets.create("gone", { value: "soon" });
    await sdk.call("deleteWorkspace", { workspace: "doomed" });
    await rejectsWith(doomed.secrets.get("gone"), "WORKSPACE_NOT_FOUND");
  });
}
