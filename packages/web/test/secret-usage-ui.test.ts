/**
 * A secret's "Use it" section in Chromium: each copy button puts its exact
 * reference or snippet on the clipboard, and the snippets work as copied —
 * the `coffer run` line sets the variables it names, the TypeScript and both
 * Python snippets read the secret from a real server. No value is shown.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Coffer } from "@coffer/sdk";
import { COFFER_BIN, startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { chromiumOrReason, launch, login, PASSWORD, Recorder, shot } from "./support/browser.ts";

declare const navigator: { clipboard: { readText(): Promise<string> } };

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const reason = chromiumOrReason();
const python = spawnSync("python3", ["--version"]).status === 0;

test("a secret's page: copy buttons for its references and snippets that run as copied", { skip: reason }, async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const admin = new Coffer({ addr: server.url, token: server.token!, workspace: "default" });
  await admin.call("updateUser", { user: "admin" }, { body: { password: PASSWORD } });
  const nonce = Math.random().toString(36).slice(2, 10);
  // "secret" is also the Python snippet's own variable: the key's variable must not shadow it.
  const values = { api_key: `sk-usage-${nonce}`, secret: `shadow-usage-${nonce}`, "webhook-secret": `whsec-usage-${nonce}` };
  await admin.secrets.create("payments/stripe/key", values);

  const browser = await launch(t);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  const page = await context.newPage();
  const recorder = new Recorder();
  recorder.watch(page);
  await login(page, server.url, "admin");
  await page.goto(`${server.url}/secrets/shared/${encodeURIComponent("payments/stripe/key")}`);
  await page.getByRole("heading", { name: "Use it" }).waitFor();
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());

  // One reference per key; a secret of several keys has no whole-secret reference.
  for (const reference of ["@{vault.payments/stripe/key.api_key}", "@{vault.payments/stripe/key.secret}", "@{vault.payments/stripe/key.webhook-secret}"]) {
    await page.getByRole("button", { name: `Copy ${reference}` }).click();
    assert.equal(await clipboard(), reference);
  }
  assert.equal(await page.getByRole("button", { name: "Copy @{vault.payments/stripe/key}", exact: true }).count(), 0);

  const snippet = async (title: string) => {
    await page.getByRole("button", { name: `Copy the ${title} snippet` }).click();
    return clipboard();
  };
  const { COFFER_WORKSPACE: _ignored, ...outer } = process.env;
  const env = { ...outer, COFFER_ADDR: server.url, COFFER_TOKEN: server.token! };
  const dir = mkdtempSync(join(tmpdir(), "coffer-usage-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // coffer run: the variables its comment names are the ones the command gets (masked in its output).
  const run = await snippet("coffer run");
  const named = [...run.matchAll(/^# {3}(\w+)$/gm)].map((match) => match[1]);
  assert.deepEqual(named, ["PAYMENTS_STRIPE_KEY_API_KEY", "PAYMENTS_STRIPE_KEY_SECRET", "PAYMENTS_STRIPE_KEY_WEBHOOK_SECRET"]);
  writeFileSync(join(dir, "coffer"), `#!/bin/sh\nexec "${process.execPath}" "${COFFER_BIN}" "$@"\n`);
  chmodSync(join(dir, "coffer"), 0o755);
  const ran = spawnSync("sh", ["-c", run.replace("./your-command", "env")], { encoding: "utf8", env: { ...env, PATH: `${dir}:${process.env.PATH}` } });
  assert.equal(ran.status, 0, ran.stderr);
  for (const variable of named) assert.match(ran.stdout, new RegExp(`^${variable}=\\*\\*\\*\\*$`, "m"));

  // TypeScript: runs as copied, from a file inside the repository (so @coffer/sdk resolves), and reads each key.
  const ts = await snippet("TypeScript");
  assert.match(ts, /coffer\.secrets\.get\("payments\/stripe\/key"\)/);
  mkdirSync(join(ROOT, "test-output"), { recursive: true });
  const tsFile = join(ROOT, `test-output/usage-snippet-${nonce}.ts`);
  writeFileSync(tsFile, `${ts}\nif (api_key !== ${JSON.stringify(values.api_key)} || secret_ !== ${JSON.stringify(values.secret)} || webhook_secret !== ${JSON.stringify(values["webhook-secret"])}) process.exit(3);\n`);
  t.after(() => rmSync(tsFile, { force: true }));
  const tsRun = spawnSync(process.execPath, [tsFile], { encoding: "utf8", env });
  assert.equal(tsRun.status, 0, tsRun.stderr);

  // Python, synchronous and asyncio: the client from clients/python.
  if (python) {
    const check = `\nassert api_key == ${JSON.stringify(values.api_key)} and secret_ == ${JSON.stringify(values.secret)} and webhook_secret == ${JSON.stringify(values["webhook-secret"])}\n`;
    const sync = await snippet("Python");
    assert.match(sync, /from coffer import Vault\b/);
    const pyEnv = { ...env, PYTHONPATH: join(ROOT, "clients/python") };
    const syncRun = spawnSync("python3", ["-c", sync + check], { encoding: "utf8", env: pyEnv });
    assert.equal(syncRun.status, 0, syncRun.stderr);
    const aio = await snippet("Python (asyncio)");
    assert.match(aio, /from coffer import AsyncVault\b/);
    const wrapped = `import asyncio\nasync def main():\n${(aio + check).replace(/^/gm, "    ")}\nasyncio.run(main())\n`;
    const aioRun = spawnSync("python3", ["-c", wrapped], { encoding: "utf8", env: pyEnv });
    assert.equal(aioRun.status, 0, aioRun.stderr);
  }

  await recorder.snapshot(page, "usage");
  await shot(page, "20-secret-usage");
  await page.setViewportSize({ width: 400, height: 860 });
  await shot(page, "21-narrow-secret-usage");
  await recorder.settle();
  for (const value of Object.values(values)) {
    for (const body of recorder.bodies) assert.ok(!body.text.includes(value), `a response from ${body.url} carried a value`);
    for (const dom of recorder.doms) assert.ok(!dom.html.includes(value), "the page showed a value");
  }
  assert.deepEqual(recorder.problems, []);
});
