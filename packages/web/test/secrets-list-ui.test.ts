/**
 * The secrets list in Chromium: folders (breadcrumbs, folder rows with their
 * counts, the folder in the URL so back, forward and reload keep it), columns
 * sorted by name, type, label, age and rotation status (the order in the URL
 * too), and the Deleted tab with personal deletions, seen by their owner and
 * by no one else. The server runs in this process over a simulated clock, so
 * ages and rotation status differ for real.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { Coffer } from "@coffer/sdk";
import type { Page } from "playwright-core";
import { DAY_MS } from "../../server/src/core/clock.ts";
import { openCoffer } from "../../server/src/coffer.ts";
import { buildApp } from "../../server/src/http/app.ts";
import { TEST_RATE_LIMITS } from "../../server/test/support/limits.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { chromiumOrReason, launch, login, logout, PASSWORD, shot } from "./support/browser.ts";

const reason = chromiumOrReason();

/** A server with the built UI on a free port; `travel` moves its clock. */
async function serve(t: TestContext) {
  const target = (await STORES[0]!.open(t))!;
  let offset = 0;
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, clock: () => Date.now() + offset, rotationJobEveryMs: 0 });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const admin = new Coffer({ addr: url, token: coffer.bootstrapToken!, workspace: "default" });
  await admin.call("updateUser", { user: "admin" }, { body: { password: PASSWORD } });
  return { url, admin, travel: (days: number) => void (offset = days * DAY_MS) };
}

/** The names of the secret rows (not the folder rows), top to bottom. */
const secretRows = (page: Page) => page.locator("table.secrets tbody tr:not(.folder-row) th").allTextContents();
const folderRows = (page: Page) => page.locator("table.secrets tbody tr.folder-row").allTextContents();
/** Waits up to 10 s for the secret rows to read `expected`, then asserts it (so a failure shows the rows). */
async function rowsBecome(page: Page, expected: string[], what: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until && (await secretRows(page)).join() !== expected.join()) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(await secretRows(page), expected, what);
}
const query = (page: Page) => new URL(page.url()).searchParams;

test("folders with counts, breadcrumbs and the folder in the URL; columns sorted, the order in the URL", { skip: reason }, async (t) => {
  const { url, admin, travel } = await serve(t);
  // gamma is 40 days old and overdue for rotation; alpha and beta are new.
  travel(-40);
  await admin.secrets.create("gamma", undefined, { type: "INTERNAL_API_KEY", label: "Alpha", rotationIntervalDays: 30 });
  travel(0);
  await admin.secrets.create("alpha", { value: "a" }, { label: "Zulu", rotationIntervalDays: 365 });
  await admin.secrets.create("beta", undefined, { type: "HMAC", label: "" });
  for (const name of ["payments/paypal", "payments/stripe/key", "payments/stripe/webhook", "payments/stripe/eu/key", "infra/db"]) await admin.secrets.create(name, { api_key: "x", secret: "y" });
  await admin.call("createWorkspace", {}, { body: { name: "staging" } });
  await admin.secrets.create("payments/stripe/old", { value: "z" });
  await admin.secrets.delete("payments/stripe/old");

  const browser = await launch(t);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(String(error)));
  await login(page, url, "admin");
  // The page after login is the secrets list, and the navigation says so.
  assert.equal(await page.getByRole("navigation", { name: "Main" }).locator('[aria-current="page"]').textContent(), "Secrets");

  // ---- the top level: folders first with their counts (the deleted secret is not counted), then secrets
  await page.getByRole("link", { name: "Folder payments/, 4 secrets" }).waitFor();
  assert.deepEqual(await folderRows(page), ["infra/1 secret", "payments/4 secrets"]);
  assert.deepEqual(await secretRows(page), ["alpha", "beta", "gamma"]);
  await shot(page, "30-list-folders");

  // ---- into payments/, then payments/stripe/: breadcrumbs, names shown relative to the folder
  await page.getByRole("link", { name: "Folder payments/, 4 secrets" }).click();
  await page.getByRole("link", { name: "Folder stripe/, 3 secrets" }).waitFor();
  assert.equal(query(page).get("folder"), "payments/");
  assert.deepEqual(await secretRows(page), ["paypal"]);
  await page.getByRole("link", { name: "Folder stripe/, 3 secrets" }).click();
  await page.getByRole("link", { name: "Folder eu/, 1 secret" }).waitFor();
  assert.equal(query(page).get("folder"), "payments/stripe/");
  assert.deepEqual(await secretRows(page), ["key", "webhook"]);
  const crumbs = page.getByRole("navigation", { name: "Folder" });
  assert.deepEqual(await crumbs.getByRole("listitem").allTextContents(), ["All shared secrets", "payments", "stripe"]);
  assert.equal(await crumbs.locator('[aria-current="page"]').textContent(), "stripe");
  await shot(page, "31-folder");

  // ---- back, forward and reload keep the folder
  await page.goBack();
  await page.getByRole("link", { name: "Folder stripe/, 3 secrets" }).waitFor();
  assert.deepEqual(await secretRows(page), ["paypal"]);
  await page.goForward();
  await page.getByRole("link", { name: "Folder eu/, 1 secret" }).waitFor();
  await page.reload();
  await page.getByRole("link", { name: "Folder eu/, 1 secret" }).waitFor();
  assert.deepEqual(await secretRows(page), ["key", "webhook"]);

  // ---- a secret's page leads back to its folder; adding a secret in a folder starts its name there
  await page.getByRole("link", { name: "key", exact: true }).click();
  await page.getByRole("heading", { name: "payments/stripe/key" }).waitFor();
  await shot(page, "32-secret-in-folder");
  await page.getByRole("link", { name: "Back to payments/stripe/" }).click();
  await page.getByRole("link", { name: "Folder eu/, 1 secret" }).waitFor();
  await page.getByRole("button", { name: "+ Add Secret" }).click();
  assert.equal(await page.getByRole("dialog").getByLabel("Name").inputValue(), "payments/stripe/");
  await page.keyboard.press("Escape");
  await crumbs.getByRole("link", { name: "payments" }).click();
  await page.getByRole("link", { name: "Folder stripe/, 3 secrets" }).waitFor();
  await crumbs.getByRole("link", { name: "All shared secrets" }).click();
  await page.getByRole("link", { name: "Folder payments/, 4 secrets" }).waitFor();

  // ---- a search looks through every folder and shows full names
  await page.getByLabel("Search secrets by name").fill("key");
  await page.getByRole("link", { name: "payments/stripe/eu/key" }).waitFor();
  assert.deepEqual(await secretRows(page), ["payments/stripe/eu/key", "payments/stripe/key"]);
  assert.deepEqual(await folderRows(page), []);
  await page.getByLabel("Search secrets by name").fill("");
  await page.getByRole("link", { name: "Folder payments/, 4 secrets" }).waitFor();

  // ---- sorting: a header's first click, its second, and the order kept in the URL
  const header = (name: string) => page.getByRole("columnheader", { name });
  const sortBy = async (name: string, expected: string[]) => {
    await header(name).getByRole("button").click();
    await rowsBecome(page, expected, `sorted by ${name}`);
  };
  await sortBy("Type", ["beta", "gamma", "alpha"]);
  assert.deepEqual([query(page).get("sort"), query(page).get("order")], ["type", "asc"]);
  assert.equal(await header("Type").getAttribute("aria-sort"), "ascending");
  await sortBy("Label", ["gamma", "alpha", "beta"]);
  await sortBy("Label", ["alpha", "gamma", "beta"]);
  assert.equal(await header("Label").getAttribute("aria-sort"), "descending");
  await sortBy("Age", ["gamma", "alpha", "beta"]);
  assert.equal(await page.locator("table.secrets tr", { hasText: "gamma" }).getByText("40 days").count(), 1);
  await sortBy("Rotation", ["gamma", "alpha", "beta"]);
  await sortBy("Rotation", ["beta", "alpha", "gamma"]);
  await sortBy("Name", ["alpha", "beta", "gamma"]);
  await sortBy("Name", ["gamma", "beta", "alpha"]);
  assert.deepEqual(await folderRows(page), ["payments/4 secrets", "infra/1 secret"], "folders follow the name order");
  await sortBy("Age", ["gamma", "alpha", "beta"]);
  await page.reload();
  await page.getByRole("link", { name: "Folder payments/, 4 secrets" }).waitFor();
  assert.deepEqual(await secretRows(page), ["gamma", "alpha", "beta"], "a reload keeps the order");
  assert.equal(await header("Age").getAttribute("aria-sort"), "descending");
  // The order holds inside folders too.
  await page.getByRole("link", { name: "Folder payments/, 4 secrets" }).click();
  await page.getByRole("link", { name: "Folder stripe/, 3 secrets" }).waitFor();
  assert.equal(query(page).get("sort"), "age");
  // Another workspace has no payments/: switching leaves the folder for the top, keeping the order.
  await page.getByLabel("Workspace").selectOption("staging");
  await page.getByText("No shared secrets yet").waitFor();
  assert.deepEqual([query(page).get("folder"), query(page).get("sort")], [null, "age"]);
  await page.getByLabel("Workspace").selectOption("default");
  await page.getByRole("link", { name: "Folder payments/, 4 secrets" }).waitFor();

  // ---- a narrow window: the headers fold away, the order is chosen from a menu
  await page.setViewportSize({ width: 400, height: 860 });
  await page.getByLabel("Sort by").selectOption("type:desc");
  await page.waitForURL(/sort=type&order=desc/);
  assert.deepEqual(await secretRows(page), ["alpha", "gamma", "beta"]);
  await shot(page, "33-narrow-list");
  await page.getByRole("link", { name: "Folder payments/, 4 secrets" }).click();
  await page.getByRole("link", { name: "Folder stripe/, 3 secrets" }).click();
  await page.getByRole("link", { name: "Folder eu/, 1 secret" }).waitFor();
  await shot(page, "34-narrow-folder");
  await page.getByRole("link", { name: "webhook", exact: true }).click();
  await page.getByRole("heading", { name: "payments/stripe/webhook" }).waitFor();
  await shot(page, "35-narrow-secret");
  assert.deepEqual(problems, []);
});

test("the Deleted tab lists shared deletions and the caller's own personal ones, never another user's", { skip: reason }, async (t) => {
  const { url, admin } = await serve(t);
  for (const username of ["alice", "bob"]) {
    await admin.call("createUser", {}, { body: { username, password: PASSWORD } });
    await admin.call("setMember", { user: username }, { body: { role: "member" } });
  }
  await admin.secrets.create("retired/api-key", { value: "old" });
  await admin.secrets.delete("retired/api-key");
  const { token } = await new Coffer({ addr: url }).call<{ token: string }>("login", {}, { body: { username: "alice", password: PASSWORD } });
  const alice = new Coffer({ addr: url, token, workspace: "default" });
  await alice.secrets.create("notes/diary", { value: "dear diary" }, { scope: "personal" });
  await alice.secrets.delete("notes/diary", { scope: "personal" });

  const browser = await launch(t);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  const deletedTab = async () => {
    await page.getByRole("tab", { name: "Deleted" }).click();
    await page.waitForURL(/view=deleted/);
  };

  // The owner sees their personal deletion, marked personal, and restores it from its page.
  await login(page, url, "alice");
  await deletedTab();
  const row = page.getByRole("row", { name: /notes\/diary/ });
  await row.waitFor();
  await row.getByText("personal", { exact: true }).waitFor();
  assert.equal(await page.getByRole("link", { name: "retired/api-key" }).count(), 0, "a member sees no shared deletion it was not granted");
  await shot(page, "36-deleted-personal");
  await page.reload();
  await row.waitFor();
  await row.getByRole("link", { name: "notes/diary" }).click();
  await page.getByRole("button", { name: "Restore" }).click();
  await page.getByText("Restored.").waitFor();
  assert.equal((await alice.secrets.get("notes/diary", { scope: "personal" })).data.value, "dear diary");
  await alice.secrets.delete("notes/diary", { scope: "personal" });
  await logout(page);

  // Another member and an administrator never see it.
  await login(page, url, "bob");
  await deletedTab();
  await page.getByText("No deleted secrets").waitFor();
  await logout(page);
  await login(page, url, "admin");
  await deletedTab();
  await page.getByRole("link", { name: "retired/api-key" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "notes/diary" }).count(), 0, "an administrator does not see a user's personal deletion");
});
