/**
 * Approvals across two server nodes on one PostgreSQL: an agent's relayed
 * call or signature waits on one node while a person decides on the other
 * (the decision reaches the waiting node through the store's change feed).
 * Approved, approved for a while, denied, and timed out; the webhook
 * `approval.requested` goes out while the call waits; every decision is in
 * the audit log.
 */
import { Coffer, CofferError } from "@coffer/sdk";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { startUpstream, upstreamPolicy } from "../../sdk/test/support/upstream.ts";
import { waitFor } from "./support/cluster.ts";
import { startServer } from "./support/server.ts";
import { STORES, tempDir } from "./support/stores.ts";

const VALUE = `sk-approval-${randomBytes(6).toString("hex")}`;
const WAIT_SECONDS = 4;

/** A webhook receiver on 127.0.0.1: the bodies it got, parsed. */
async function receiver(t: TestContext): Promise<{ url: string; bodies: any[] }> {
  const bodies: any[] = [];
  const server = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk) => (text += chunk));
    request.on("end", () => {
      bodies.push(JSON.parse(text));
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

async function twoNodes(t: TestContext) {
  const target = await STORES[1]!.open(t);
  if (!target) return null;
  const env = { COFFER_ROOT_KEY: randomBytes(32).toString("base64"), COFFER_APPROVAL_TIMEOUT: String(WAIT_SECONDS) };
  const a = await startServer(t, target, env);
  t.after(() => a.stop());
  const b = await startServer(t, { ...target, dataDir: tempDir() }, env);
  t.after(() => b.stop());
  return { a, b, adminToken: a.token! };
}

test("an agent's use waits on one node while a person approves, approves for a while, or denies on another; silence denies", async (t) => {
  const nodes = await twoNodes(t);
  if (!nodes) return;
  const upstream = await startUpstream(t);
  const hook = await receiver(t);
  const adminOnA = new Coffer({ addr: nodes.a.url, token: nodes.adminToken });
  const personOnB = new Coffer({ addr: nodes.b.url, token: nodes.adminToken });
  await adminOnA.call(["POST", "/api/v1/workspaces/{workspace}/webhooks"], {}, { body: { url: hook.url, events: ["approval.requested"] } });

  await adminOnA.secrets.create("openai/api-key", { value: VALUE });
  await adminOnA.setRelayPolicy("openai/api-key", upstreamPolicy(upstream));
  await adminOnA.secrets.updateMetadata("openai/api-key", { approval: "agents" });
  await adminOnA.secrets.create("signer", undefined, { type: "HMAC" });
  await adminOnA.secrets.updateMetadata("signer", { approval: "all" });
  assert.equal((await adminOnA.secrets.metadata("openai/api-key")).approval, "agents");

  const agentToken = (await adminOnA.tokens.create({ name: "bot", access: "use", labels: { agent: "support-bot", session: "run-1" } })).token;
  const agentOnA = new Coffer({ addr: nodes.a.url, token: agentToken, maxRetries: 0 });
  const agentOnB = new Coffer({ addr: nodes.b.url, token: agentToken, maxRetries: 0 });
  const call = { method: "GET", url: `${upstream.url}/echo`, headers: { Authorization: "Bearer @{vault.openai/api-key}" } };
  const pending = async () => {
    let found: Awaited<ReturnType<typeof personOnB.approvals.list>> = [];
    await waitFor(async () => (found = await personOnB.approvals.list()).length === 1, "a pending request seen on node B");
    return found[0]!;
  };

  // A person's own use of an `agents` secret needs no approval.
  assert.equal((await adminOnA.relay(call)).status, 200);
  assert.equal((await personOnB.approvals.list({ status: "all" })).length, 0);

  // Approved once, on the other node: the waiting call goes out.
  const approvedCall = agentOnA.relay(call);
  const first = await pending();
  assert.equal(first.secretName, "openai/api-key");
  assert.deepEqual([first.kind, first.action, first.requester.agent, first.requester.session], ["use", "relay", "support-bot", "run-1"]);
  assert.equal(upstream.received.length, 1, "nothing is sent while the call waits");
  await waitFor(async () => hook.bodies.some((body) => JSON.stringify(body).includes(first.id)), "the approval.requested webhook");
  const delivered = hook.bodies.find((body) => JSON.stringify(body).includes(first.id));
  assert.match(JSON.stringify(delivered), /approval\.requested/);
  assert.ok(!JSON.stringify(delivered).includes(VALUE));
  await personOnB.approvals.approve(first.id);
  const answered = await approvedCall;
  assert.equal(answered.status, 200);
  assert.equal(upstream.received.at(-1)?.headers.authorization, `Bearer ${VALUE}`);
  assert.ok(!JSON.stringify(answered).includes(VALUE));

  // Approved once means once: the next call asks again. This time for an hour, for this token.
  const second = agentOnB.relay(call);
  const again = await pending();
  assert.notEqual(again.id, first.id);
  const decided = await personOnB.approvals.approve(again.id, { forSeconds: 3600 });
  assert.ok(decided.validUntil !== null);
  assert.equal((await second).status, 200);
  assert.equal((await agentOnA.relay(call)).status, 200, "within the hour: no new request");
  assert.equal((await personOnB.approvals.list()).length, 0);

  // Denied on the other node: the waiting signature fails, nothing signed.
  const signing = agentOnA.secrets.sign("signer", "payload").then(
    () => assert.fail("a denied use goes ahead"),
    (error: unknown) => error,
  );
  const toDeny = await pending();
  assert.equal(toDeny.action, "hmac-sign");
  await personOnB.approvals.deny(toDeny.id);
  const refusal = (await signing) as CofferError;
  assert.ok(refusal instanceof CofferError);
  assert.equal(refusal.code, "APPROVAL_DENIED");
  assert.equal(refusal.status, 403);
  assert.match(refusal.message, /denied/);
  await assert.rejects(personOnB.approvals.approve(toDeny.id), /no longer pending/, "a decided request stays decided");

  // Nobody answers: the wait ends at the server's --approval-timeout and denies.
  const ignored = await agentOnB.secrets.sign("signer", "payload").then(
    () => assert.fail("an unanswered use goes ahead"),
    (error: unknown) => error as CofferError,
  );
  assert.equal(ignored.code, "APPROVAL_DENIED");
  assert.match(ignored.message, new RegExp(`none came within ${WAIT_SECONDS} s`));
  const history = await personOnB.approvals.list({ status: "all" });
  assert.deepEqual(history.map((approval) => approval.status), ["expired", "denied", "approved", "approved"]);

  // The agent cannot decide, and every decision is in the audit log.
  await assert.rejects(agentOnA.approvals.approve(first.id), (error: CofferError) => error.code === "NOT_FOUND");
  const audit = await adminOnA.call<{ events: { action: string; outcome: string }[] }>("listAudit", {}, { query: { workspace: "default", action: "approval.*" } });
  const actions = audit.events.map((event) => `${event.action}:${event.outcome}`);
  for (const expected of ["approval.approve:ok", "approval.deny:ok", "approval.expire:denied"]) assert.ok(actions.includes(expected), `audit has ${expected}: ${actions.join(", ")}`);
  const relays = await adminOnA.call<{ events: { action: string; outcome: string }[] }>("listAudit", {}, { query: { workspace: "default", action: "secret.hmac-sign" } });
  assert.equal(relays.events.filter((event) => event.outcome === "denied").length, 2, "both refused signatures are audited as denied");
});

test("an agent asks for a grant; approving it grants the level it asked for", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  t.after(() => server.stop());
  const admin = new Coffer({ addr: server.url, token: server.token! });
  await admin.secrets.create("stripe/key", { value: VALUE });
  await admin.call(["POST", "/api/v1/workspaces/{workspace}/service-accounts"], {}, { body: { name: "bot" } });
  await admin.secrets.share("stripe/key", "sa:bot", "see");
  const minted = await admin.call<{ token: string }>(["POST", "/api/v1/workspaces/{workspace}/service-accounts/{account}/tokens"], { account: "bot" }, { body: {} });
  const bot = new Coffer({ addr: server.url, token: minted.token, maxRetries: 0 });
  await assert.rejects(bot.secrets.sign("stripe/key", "x"), (error: CofferError) => error.code === "ACCESS_DENIED" || error.code === "INVALID_SECRET_TYPE");
  const asked = await bot.approvals.request("stripe/key", "use", "to call Stripe for ticket 42");
  assert.deepEqual([asked.kind, asked.action, asked.status, asked.reason], ["grant", "use", "pending", "to call Stripe for ticket 42"]);
  assert.equal((await bot.secrets.metadata("stripe/key")).access, "see");
  await admin.approvals.approve(asked.id);
  assert.equal((await bot.secrets.metadata("stripe/key")).access, "use");
  await assert.rejects(bot.approvals.request("stripe/key", "read" as "use"), (error: CofferError) => error.code === "INVALID_REQUEST");
});
