/**
 * `coffer approvals` as a child process against a real server: it sets who
 * needs approval, lists the uses that wait, and approves or denies them while
 * an agent's signature waits on the server.
 */
import { Coffer, CofferError } from "@coffer/sdk";
import assert from "node:assert/strict";
import { test } from "node:test";
import { fixture, ok } from "./support/cli.ts";

test("coffer approvals require, list, approve and deny decide an agent's waiting use", async (t) => {
  const f = await fixture(t);
  const admin = new Coffer({ addr: f.server.url, token: f.server.token! });
  await admin.secrets.create("signer", undefined, { type: "HMAC" });
  assert.match(ok(await f.coffer(["approvals", "require", "signer", "agents"])).stderr, /each use by an agent token needs a person's approval/);
  assert.equal((await admin.secrets.metadata("signer")).approval, "agents");
  const bad = await f.coffer(["approvals", "require", "signer", "sometimes"]);
  assert.equal(bad.code, 2);

  const agentToken = (await admin.tokens.create({ name: "bot", access: "use", labels: { agent: "cli-bot" } })).token;
  const agent = new Coffer({ addr: f.server.url, token: agentToken, maxRetries: 0 });
  const waitingId = async () => {
    for (let tries = 0; tries < 100; tries++) {
      const listed = ok(await f.coffer(["approvals", "list", "--json"]));
      const pending = JSON.parse(listed.stdout) as { id: string }[];
      if (pending.length === 1) return pending[0]!.id;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("no pending approval appeared");
  };

  const signed = agent.secrets.sign("signer", "hello");
  const first = await waitingId();
  const table = ok(await f.coffer(["approvals", "list"])).stdout;
  assert.match(table, new RegExp(`${first}\\s+signer\\s+sign\\s+admin agent=cli-bot\\s+pending`));
  assert.match(ok(await f.coffer(["approvals", "approve", first, "--for", "1h"])).stderr, /Approved .*uses by the same token pass until/);
  assert.match((await signed).signature, /^v1:/);
  assert.match((await agent.secrets.sign("signer", "again")).signature, /^v1:/, "approved for an hour: no new wait");

  // A fresh agent token is a new approval; this one is denied.
  const other = new Coffer({ addr: f.server.url, token: (await admin.tokens.create({ name: "bot2", access: "use", labels: { agent: "cli-bot" } })).token, maxRetries: 0 });
  const refused = other.secrets.sign("signer", "hello").catch((error: CofferError) => error);
  const second = await waitingId();
  assert.match(ok(await f.coffer(["approvals", "deny", second])).stderr, /Denied/);
  assert.equal(((await refused) as CofferError).code, "APPROVAL_DENIED");

  const all = ok(await f.coffer(["approvals", "list", "--all"])).stdout;
  assert.match(all, /approved/);
  assert.match(all, /denied/);
  assert.match(ok(await f.coffer(["approvals", "list"])).stdout, /nothing waits for approval/);
  const missing = await f.coffer(["approvals", "approve", "apr_nope"]);
  assert.equal(missing.code, 5);
  for (const args of [["approvals", "--help"], ["approvals", "approve", "--help"]]) assert.match(ok(await f.coffer(args)).stdout, /approval/i);
});
