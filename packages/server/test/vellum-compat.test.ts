/**
 * Vellum's workspace secrets API under /vellum/v1, spoken by the published
 * vellum-ai SDK (unchanged) against a real server: retrieve by id and name,
 * partial update, its typed errors; a value never appears in an answer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { VellumClient, VellumError } from "vellum-ai";
import { auditOf, compatWorld, must } from "./support/compat.ts";
import { client } from "./support/http.ts";

async function vellumRefuses(promise: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof VellumError, String(error));
    assert.equal(error.statusCode, status, JSON.stringify(error.body));
    assert.equal((error.body as { code?: string }).code, code);
    assert.equal(typeof (error.body as { detail?: string }).detail, "string");
    return true;
  });
}

test("vellum-ai: workspace secrets by id and name, partial updates and typed errors", async (t) => {
  const world = await compatWorld(t);
  const hmac = await must(world.admin("POST", "/api/v1/workspaces/default/secrets", { name: "webhook-signing", type: "HMAC", label: "Webhook" }), 201, "HMAC secret");
  await must(world.admin("POST", "/api/v1/workspaces/default/secrets", { name: "openai-key", data: { value: "vellum-old-value" } }), 201, "single-value secret");
  await must(world.admin("POST", "/api/v1/workspaces/default/secrets", { name: "db", data: { host: "h", password: "vellum-db-pw" } }), 201, "multi-key secret");
  const key = (await must(world.admin("POST", "/api/v1/auth/tokens", { name: "vellum", workspace: "default" }), 201, "workspace key")).token;
  const vellum = new VellumClient({ apiKey: key, baseUrl: `${world.url}/vellum` });

  const byId = await vellum.workspaceSecrets.retrieve(hmac.id);
  assert.deepEqual([byId.id, byId.name, byId.label, byId.secretType], [hmac.id, "webhook-signing", "Webhook", "HMAC"]);
  assert.ok(byId.modified instanceof Date && !Number.isNaN(byId.modified.getTime()));
  const byName = await vellum.workspaceSecrets.retrieve("webhook-signing");
  assert.equal(byName.id, hmac.id);

  const relabeled = await vellum.workspaceSecrets.partialUpdate("openai-key", { label: "OpenAI" });
  assert.equal(relabeled.label, "OpenAI");
  const updated = await vellum.workspaceSecrets.partialUpdate("openai-key", { value: "vellum-new-value" });
  assert.equal(updated.secretType, "USER_DEFINED");
  const native = await must(world.admin("GET", "/api/v1/workspaces/default/secrets/openai-key"), 200, "native read");
  assert.deepEqual([native.data, native.label, native.version], [{ value: "vellum-new-value" }, "OpenAI", 2]);

  // The wire answer is exactly Vellum's shape: no value, ever.
  const raw = await client(world.url, null)("PATCH", "/vellum/v1/workspace-secrets/openai-key", { value: "vellum-newest-value" }, { "x-api-key": key, "x-api-version": "2025-07-30" });
  assert.equal(raw.status, 200);
  assert.match(raw.headers.get("x-request-id") ?? "", /^req_/, "the request id, for the audit log");
  const [patchEvent] = await auditOf(world, raw.headers.get("x-request-id")!);
  assert.deepEqual([patchEvent?.action, patchEvent?.outcome, patchEvent?.secretName, patchEvent?.actor.name], ["secret.update", "ok", "openai-key", "admin"]);
  // The SDK's reads are there too, as metadata reads (Vellum never answers a value).
  const reads = (await must(world.admin("GET", "/api/v1/audit?secret=webhook-signing&action=secret.read-metadata"), 200, "audit")).events;
  assert.equal(reads.length, 2, "by id and by name");
  assert.deepEqual(Object.keys(raw.body).sort(), ["id", "label", "modified", "name", "secret_type"]);
  assert.ok(!JSON.stringify(raw.body).includes("vellum-newest-value"));

  // Vellum's errors, as the SDK's typed VellumError.
  await vellumRefuses(vellum.workspaceSecrets.retrieve("no-such-secret"), 404, "SECRET_NOT_FOUND");
  await vellumRefuses(vellum.workspaceSecrets.partialUpdate("db", { value: "one value for two keys" }), 400, "INVALID_SECRET_TYPE");
  assert.equal((await must(world.admin("GET", "/api/v1/workspaces/default/secrets/db"), 200, "db unchanged")).version, 1);
  await vellumRefuses(new VellumClient({ apiKey: "cft_not-a-key", baseUrl: `${world.url}/vellum` }).workspaceSecrets.retrieve("db"), 403, "ACCESS_DENIED");
  // A key must be scoped to one workspace.
  await vellumRefuses(new VellumClient({ apiKey: world.adminToken, baseUrl: `${world.url}/vellum` }).workspaceSecrets.retrieve("db"), 403, "ACCESS_DENIED");
});

test("vellum-ai: a key without a grant gets Vellum's ACCESS_DENIED, hidden and missing alike, and changes nothing", async (t) => {
  const world = await compatWorld(t);
  const memberKey = (await must(client(world.url, world.member.token)("POST", "/api/v1/auth/tokens", { name: "vellum", workspace: "default" }), 201, "member key")).token;
  const member = new VellumClient({ apiKey: memberKey, baseUrl: `${world.url}/vellum` });
  await vellumRefuses(member.workspaceSecrets.retrieve("shared/api"), 403, "ACCESS_DENIED");
  await vellumRefuses(member.workspaceSecrets.retrieve("not-there"), 403, "ACCESS_DENIED");
  await vellumRefuses(member.workspaceSecrets.partialUpdate("shared/api", { value: "taken over" }), 403, "ACCESS_DENIED");
  // The service account holds read: it may see the secret but not change it.
  const saKey = world.account.token;
  const account = new VellumClient({ apiKey: saKey, baseUrl: `${world.url}/vellum` });
  assert.equal((await account.workspaceSecrets.retrieve("shared/api")).name, "shared/api");
  await vellumRefuses(account.workspaceSecrets.partialUpdate("shared/api", { label: "mine" }), 403, "ACCESS_DENIED");
  const shared = await must(world.admin("GET", "/api/v1/workspaces/default/secrets/shared%2Fapi"), 200, "shared read");
  assert.deepEqual([shared.data, shared.label, shared.version], [{ value: "shared-v1" }, "shared/api", 1]);
});
