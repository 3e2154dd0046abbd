/**
 * The Approvals page in Chromium: an agent's relayed call waits on the
 * server, the navigation counts it, and a person approves it (the call goes
 * out) or denies it (the call fails with APPROVAL_DENIED); no value reaches
 * the page. Screenshots go to test-output/ui/approvals-*.png.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Coffer, CofferError } from "@coffer/sdk";
import { startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { startUpstream, upstreamPolicy } from "../../sdk/test/support/upstream.ts";
import { chromiumOrReason, launch, login, PASSWORD, Recorder, shot } from "./support/browser.ts";

const reason = chromiumOrReason();

test("the Approvals page counts waiting calls in the navigation; approving lets one go, denying refuses the next", { skip: reason }, async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!, { COFFER_APPROVAL_TIMEOUT: "120" });
  const upstream = await startUpstream(t);
  const admin = new Coffer({ addr: server.url, token: server.token!, workspace: "default" });
  await admin.call("updateUser", { user: "admin" }, { body: { password: PASSWORD } });
  const value = `sk-ui-approval-${Math.random().toString(36).slice(2, 10)}`;
  await admin.secrets.create("openai/api-key", { value });
  await admin.setRelayPolicy("openai/api-key", upstreamPolicy(upstream));
  await admin.secrets.updateMetadata("openai/api-key", { approval: "agents" });
  const agent = new Coffer({ addr: server.url, token: (await admin.tokens.create({ name: "bot", access: "use", labels: { agent: "ui-bot" } })).token, maxRetries: 0 });
  const call = { method: "GET", url: `${upstream.url}/echo`, headers: { Authorization: "Bearer @{vault.openai/api-key}" } };

  const browser = await launch(t);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const recorder = new Recorder();
  recorder.watch(page);
  await login(page, server.url, "admin");
  await page.goto(`${server.url}/approvals`);
  await page.getByText("Nothing waits for approval").waitFor();

  const waiting = agent.relay(call);
  const nav = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: /Approvals/ });
  await nav.getByText("1").waitFor({ timeout: 20_000 });
  const row = page.getByRole("table", { name: "Pending approvals" }).getByRole("row").filter({ hasText: "openai/api-key" });
  await row.getByText("agent ui-bot").waitFor();
  await row.getByText("relay a call").waitFor();
  await recorder.snapshot(page, "waiting");
  await shot(page, "approvals-01-waiting");
  assert.equal(upstream.received.length, 0, "nothing is sent while it waits");
  await row.getByRole("button", { name: "Approve once" }).click();
  assert.equal((await waiting).status, 200);
  assert.equal(upstream.received.at(-1)?.headers.authorization, `Bearer ${value}`);
  await page.getByText("Nothing waits for approval").waitFor();
  await nav.getByText("1").waitFor({ state: "detached" });

  const refused = agent.relay(call).catch((error: CofferError) => error);
  await row.getByRole("button", { name: "Deny" }).click({ timeout: 20_000 });
  const error = (await refused) as CofferError;
  assert.equal(error.code, "APPROVAL_DENIED");
  assert.equal(upstream.received.length, 1);
  await shot(page, "approvals-02-decided");
  assert.ok(!(await page.content()).includes(value), "no value on the page");
  await recorder.settle();
  assert.deepEqual(recorder.problems, []);
  for (const seen of [...recorder.bodies.map((body) => body.text), ...recorder.doms.map((dom) => dom.html)]) assert.ok(!seen.includes(value), "no value reached the browser");
});
