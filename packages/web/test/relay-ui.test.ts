/**
 * The relay in the web UI, end to end in Chromium: the "Relay" card of a
 * secret's page sets, edits and removes its relay policy, and the "Relay
 * routes" page creates, edits and deletes base-URL routes; each change is
 * checked through the API. Members see both read-only. No value ever
 * reaches the page. Screenshots go to test-output/ui/relay-*.png.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Coffer } from "@coffer/sdk";
import { startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { chromiumOrReason, launch, login, logout, PASSWORD, Recorder, shot } from "./support/browser.ts";

const reason = chromiumOrReason();

test("the Relay card and the Relay routes page: admins edit, members read, checked through the API", { skip: reason }, async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const admin = new Coffer({ addr: server.url, token: server.token!, workspace: "default" });
  await admin.call("updateUser", { user: "admin" }, { body: { password: PASSWORD } });
  await admin.call("createUser", {}, { body: { username: "alice" } });
  await admin.call("updateUser", { user: "alice" }, { body: { password: PASSWORD } });
  await admin.call("setMember", { user: "alice" }, { body: { role: "member" } });
  const value = `sk-ui-relay-${Math.random().toString(36).slice(2, 10)}`;
  await admin.secrets.create("openai/api-key", { value });
  await admin.secrets.share("openai/api-key", "user:alice", "use");

  const browser = await launch(t);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const recorder = new Recorder();
  recorder.watch(page);
  const secretUrl = `${server.url}/secrets/shared/${encodeURIComponent("openai/api-key")}`;

  // ---- the Relay card: set a policy
  await login(page, server.url, "admin");
  await page.goto(secretUrl);
  const card = page.locator("section.relay-card");
  await card.getByText("No relay policy").waitFor();
  await card.getByRole("button", { name: "Set a policy" }).click();
  const dialog = page.getByRole("dialog", { name: "Relay policy" });
  await dialog.getByLabel("Hosts").fill("api.openai.com, *.openai.com");
  await dialog.getByLabel("Methods").fill("get, post");
  await dialog.getByLabel("Headers").fill("Authorization");
  await dialog.getByLabel("The value may go in the request body").check();
  await recorder.snapshot(page, "policy dialog");
  await shot(page, "relay-01-policy-dialog");
  await dialog.getByRole("button", { name: "Save policy" }).click();
  await card.getByText("Relay policy saved.").waitFor();
  assert.deepEqual(await admin.relayPolicy("openai/api-key"), {
    hosts: ["api.openai.com", "*.openai.com"],
    schemes: ["https"],
    ports: [],
    methods: ["GET", "POST"],
    headers: ["Authorization"],
    query: [],
    body: true,
    addresses: [],
  });
  await card.getByText("api.openai.com, *.openai.com").waitFor();
  await recorder.snapshot(page, "policy shown");
  await shot(page, "relay-02-policy-card");

  // Edit: the dialog starts from the saved policy; a bad port is refused before anything is sent.
  await card.getByRole("button", { name: "Edit policy" }).click();
  assert.equal(await dialog.getByLabel("Hosts").inputValue(), "api.openai.com, *.openai.com");
  await dialog.getByLabel("Ports").fill("443, http");
  await dialog.getByRole("button", { name: "Save policy" }).click();
  await dialog.getByText("Ports are numbers from 1 to 65535.").waitFor();
  await dialog.getByLabel("Ports").fill("443, 8443");
  await dialog.getByRole("button", { name: "Save policy" }).click();
  await card.getByText("443, 8443").waitFor();
  assert.deepEqual((await admin.relayPolicy("openai/api-key"))?.ports, [443, 8443]);

  // ---- the Relay routes page: create and edit a route
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Relay routes" }).click();
  await page.getByRole("heading", { name: "Relay routes" }).waitFor();
  await page.getByText("No relay routes").waitFor();
  await page.getByRole("button", { name: "+ New route" }).click();
  const routeDialog = page.getByRole("dialog", { name: "New relay route" });
  await routeDialog.getByLabel("Route name").fill("OpenAI");
  await routeDialog.getByLabel("Target").fill("https://api.openai.com");
  await routeDialog.getByLabel("Header templates: template 1").fill("Bearer @{vault.openai/api-key}");
  await routeDialog.getByLabel("Description (optional)").fill("OpenAI for agents");
  await routeDialog.getByRole("button", { name: "Save route" }).click();
  await routeDialog.getByText(/Route names are lowercase letters/).waitFor();
  await routeDialog.getByLabel("Route name").fill("openai");
  await shot(page, "relay-03-route-dialog");
  await routeDialog.getByRole("button", { name: "Save route" }).click();
  await page.getByText("Saved route openai.").waitFor();
  const [created] = await admin.relayRoutes.list();
  assert.deepEqual([created?.name, created?.target, created?.headers, created?.description], ["openai", "https://api.openai.com", { Authorization: "Bearer @{vault.openai/api-key}" }, "OpenAI for agents"]);
  await page.getByRole("row", { name: /openai/ }).getByText("Authorization: Bearer @{vault.openai/api-key}").waitFor();
  await page.getByText(`${server.url}/relay/default/ROUTE`).waitFor();
  await recorder.snapshot(page, "routes");
  await shot(page, "relay-04-routes");

  await page.getByRole("button", { name: "Edit route openai" }).click();
  const editDialog = page.getByRole("dialog", { name: "Edit route openai" });
  assert.equal(await editDialog.getByLabel("Route name").getAttribute("readonly"), "", "a route's name is fixed once made");
  await editDialog.getByLabel("Description (optional)").fill("OpenAI, through Coffer");
  await editDialog.getByRole("button", { name: "+ Add" }).last().click();
  await editDialog.getByLabel("Query templates: name 1").fill("project");
  await editDialog.getByLabel("Query templates: template 1").fill("proj-1");
  await editDialog.getByRole("button", { name: "Save route" }).click();
  await page.getByText("Saved route openai.").waitFor();
  const [edited] = await admin.relayRoutes.list();
  assert.deepEqual([edited?.description, edited?.query], ["OpenAI, through Coffer", { project: "proj-1" }]);

  // ---- a member reads both, and changes neither
  await logout(page);
  await login(page, server.url, "alice");
  await page.goto(secretUrl);
  await card.getByText("api.openai.com, *.openai.com").waitFor();
  assert.equal(await card.getByRole("button").count(), 0, "no edit buttons for a member");
  await recorder.snapshot(page, "member secret");
  await shot(page, "relay-05-member-card");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Relay routes" }).click();
  await page.getByRole("row", { name: /openai/ }).waitFor();
  assert.equal(await page.getByRole("button", { name: "+ New route" }).count(), 0);
  assert.equal(await page.getByRole("button", { name: "Edit route openai" }).count(), 0);
  await recorder.snapshot(page, "member routes");
  await shot(page, "relay-06-member-routes");

  // ---- an admin deletes the route and removes the policy
  await logout(page);
  await login(page, server.url, "admin");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Relay routes" }).click();
  await page.getByRole("button", { name: "Delete route openai" }).click();
  await page.getByRole("dialog", { name: "Delete route openai?" }).getByRole("button", { name: "Delete route" }).click();
  await page.getByText("Deleted route openai.").waitFor();
  assert.deepEqual(await admin.relayRoutes.list(), []);
  await page.goto(secretUrl);
  await card.getByRole("button", { name: "Remove policy" }).click();
  await page.getByRole("dialog", { name: "Remove the relay policy?" }).getByRole("button", { name: "Remove policy" }).click();
  await card.getByText("Relay policy removed.").waitFor();
  assert.equal(await admin.relayPolicy("openai/api-key"), null);

  await recorder.settle();
  assert.deepEqual(recorder.problems, []);
  for (const body of recorder.bodies) assert.ok(!body.text.includes(value), `a value reached the page in ${body.url}`);
  for (const dom of recorder.doms) assert.ok(!dom.html.includes(value), `a value was shown: ${dom.where}`);
});
