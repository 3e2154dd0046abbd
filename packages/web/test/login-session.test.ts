/**
 * The UI's login in a real browser keeps the session token out of reach of
 * the page's scripts: the login answer the page receives carries no token,
 * only the HttpOnly cookie holds it, and the session still works. The CLI's
 * and scripts' login keeps getting the token in its answer
 * (packages/server/test/identity.test.ts covers both at the HTTP level).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Coffer } from "@coffer/sdk";
import { startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { chromiumOrReason, launch, login, PASSWORD } from "./support/browser.ts";

declare const document: { cookie: string; querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };

const reason = chromiumOrReason();

test("a browser login: the token only in the HttpOnly cookie, never in what the page's scripts can read", { skip: reason }, async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const admin = new Coffer({ addr: server.url, token: server.token!, workspace: "default" });
  await admin.call("updateUser", { user: "admin" }, { body: { password: PASSWORD } });

  const browser = await launch(t);
  const context = await browser.newContext();
  const page = await context.newPage();
  const answer = page.waitForResponse((response) => response.url().endsWith("/api/v1/auth/login") && response.request().method() === "POST");
  await login(page, server.url, "admin");
  const response = await answer;

  assert.equal(response.status(), 200);
  assert.equal(JSON.parse(response.request().postData() ?? "{}").session, "cookie", "the UI asks for a cookie session");
  const body = await response.json();
  assert.deepEqual(Object.keys(body).sort(), ["csrfToken", "expiresAt", "user"], "the answer has no token");

  const cookies = await context.cookies(server.url);
  const session = cookies.find((cookie) => cookie.name === "coffer_session");
  assert.ok(session, `the session cookie is set (${cookies.map((cookie) => cookie.name)})`);
  assert.match(session.value, /^cft_/);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.ok(!(await response.text()).includes(session.value), "the answer does not carry the session token");
  assert.ok(!(await page.evaluate(() => document.cookie)).includes(session.value), "document.cookie does not show it");

  // The cookie is a working session: the page lists secrets after a reload, without logging in again.
  await page.reload();
  await page.getByRole("heading", { name: "Secrets" }).waitFor();

  // A script's login (the default session kind) still gets its token, and no cookie.
  const scripted = await fetch(`${server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: PASSWORD }),
  });
  assert.equal(scripted.status, 200);
  assert.match(((await scripted.json()) as { token: string }).token, /^cft_/);
  assert.equal(scripted.headers.get("set-cookie"), null);
});

test("the navigation shows its entries whole when it first shows, after a login and after a reload", { skip: reason }, async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const admin = new Coffer({ addr: server.url, token: server.token!, workspace: "default" });
  await admin.call("updateUser", { user: "admin" }, { body: { password: PASSWORD } });
  const page = await (await launch(t)).newPage();
  // Polled on every frame: what the navigation held the first time it was on screen.
  const firstShown = () =>
    page.waitForFunction(() => {
      const links = Array.from(document.querySelectorAll("nav.side a"));
      return links.length > 0 && links.map((link) => link.textContent);
    }, undefined, { polling: "raf" });
  const entries = ["Secrets", "My tokens", "Relay routes", "Approvals", "Members", "Groups", "Service accounts", "Audit log", "Settings"];

  await page.goto(server.url);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  const afterLogin = firstShown();
  await page.getByRole("button", { name: "Log in" }).click();
  assert.deepEqual(await (await afterLogin).jsonValue(), entries, "after the login");
  await page.reload({ waitUntil: "commit" });
  assert.deepEqual(await (await firstShown()).jsonValue(), entries, "after a reload");
});
