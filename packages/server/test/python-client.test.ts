/**
 * The Python client (clients/python/coffer) against a real server: runs its
 * unittest suite with python3, COFFER_ADDR and COFFER_TOKEN pointing at a
 * fresh SQLite-backed server (sync and async clients, with_secrets, failover
 * past a dead address), then installs the package with pip into a fresh
 * venv, offline, and uses the installed copy. Without python3 the tests are
 * skipped, except in CI (CI=true), where they fail.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { PYTHON, pythonUnavailable, runUnittest } from "./support/python.ts";
import { startServer } from "./support/server.ts";
import { STORES } from "./support/stores.ts";

const CLIENT_DIR = fileURLToPath(new URL("../../../clients/python/", import.meta.url));

test("the Python client passes its unittest suite against a real server", async (t) => {
  const reason = pythonUnavailable();
  if (reason) {
    t.skip(reason);
    return;
  }
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  assert.ok(server.token, "the first start prints a bootstrap token");
  const canary = `py-canary-${randomBytes(8).toString("hex")}`;

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COFFER_ADDR: server.url,
    COFFER_TOKEN: server.token,
    COFFER_TEST_CANARY: canary,
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONUNBUFFERED: "1",
  };
  delete env.COFFER_WORKSPACE;
  const { exit, output } = await runUnittest(PYTHON, "test_coffer", CLIENT_DIR, env);

  assert.equal(exit, 0, `${PYTHON} -m unittest exited with ${exit}:\n${output}`);
  assert.match(output, /^Ran \d+ tests? in /m, output);
  assert.match(output, /^OK$/m, `every test passed, none skipped:\n${output}`);
  assert.ok(!server.output().includes(canary), "the server log never holds a value");
});

test("pip installs the client from the source tree offline into a fresh venv, and the installed package works", async (t) => {
  const reason = pythonUnavailable();
  if (reason) {
    t.skip(reason);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "coffer-venv-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: "1", PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1" };
  delete env.PYTHONPATH;
  const venv = spawnSync(PYTHON, ["-m", "venv", join(dir, "venv")], { encoding: "utf8", env, timeout: 120_000 });
  assert.equal(venv.status, 0, venv.stderr);
  const treeBefore = spawnSync("git", ["status", "--porcelain", "--ignored", CLIENT_DIR], { encoding: "utf8" }).stdout;
  // --no-index: the install must not need a package index (no setuptools download), as on a machine without one.
  const pip = spawnSync(join(dir, "venv", "bin", "pip"), ["install", "--no-index", CLIENT_DIR], { cwd: dir, encoding: "utf8", env, timeout: 180_000 });
  assert.equal(pip.status, 0, `${pip.stdout}\n${pip.stderr}`);
  assert.match(pip.stdout, /Successfully installed coffer-client-0\.1\.0/);

  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  // Run from a directory outside the source tree, so only the installed copy can be imported.
  const script = `
import asyncio, os, sys, sysconfig, coffer
site = sysconfig.get_paths()["purelib"]
assert coffer.__file__.startswith(site), (coffer.__file__, site)
assert os.path.exists(os.path.join(os.path.dirname(coffer.__file__), "py.typed"))
async def main():
    vault = coffer.AsyncVault()
    await vault.secrets.create("installed/check", {"api_key": "from-the-wheel"})
    async with vault.with_secrets(["installed/check"]) as secrets:
        print(secrets["installed/check"].api_key, coffer.__version__)
asyncio.run(main())
`;
  const run = spawnSync(join(dir, "venv", "bin", "python"), ["-c", script], {
    cwd: dir,
    encoding: "utf8",
    env: { ...env, COFFER_ADDR: server.url, COFFER_TOKEN: server.token ?? "" },
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), "from-the-wheel 0.1.0");
  const treeAfter = spawnSync("git", ["status", "--porcelain", "--ignored", CLIENT_DIR], { encoding: "utf8" }).stdout;
  assert.equal(treeAfter, treeBefore, "building leaves nothing behind in the source tree");
});
