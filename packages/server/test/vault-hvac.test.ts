/**
 * hvac, the Python Vault client (Debian's python3-hvac, unchanged), against
 * a real server: the unittest suite in test/hvac. When the package is
 * missing it is installed in CI (running as root), and the test is skipped
 * with the reason elsewhere.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { compatWorld, must } from "./support/compat.ts";
import { debianPackagePresent } from "./support/debian.ts";
import { runUnittest } from "./support/python.ts";

const SUITE_DIR = fileURLToPath(new URL("./hvac/", import.meta.url));
// Debian's interpreter, where python3-hvac installs; a pyenv or venv python3 on PATH would not see it.
const PYTHON = process.env.COFFER_TEST_HVAC_PYTHON ?? "/usr/bin/python3";

const hasHvac = () => spawnSync(PYTHON, ["-c", "import hvac"], { timeout: 30_000 }).status === 0;

/** null when hvac imports (installed first in CI); otherwise why not. */
function hvacUnavailable(): string | null {
  if (debianPackagePresent("python3-hvac", hasHvac)) return null;
  return `hvac is not importable by ${PYTHON}: install it with 'apt-get install -y python3-hvac' (done automatically with CI=true as root)`;
}

test("hvac (python3-hvac) passes its KV v2, token, ACL policy, login and mount suite against a real server", async (t) => {
  const reason = hvacUnavailable();
  if (reason) {
    t.skip(reason);
    return;
  }
  const world = await compatWorld(t);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    VAULT_ADDR: world.url,
    VAULT_TOKEN: world.adminToken,
    COFFER_MEMBER: world.member.username,
    COFFER_MEMBER_PASSWORD: world.member.password,
    COFFER_MEMBER_TOKEN: world.member.token,
    COFFER_ROLE_ID: world.account.id,
    COFFER_SECRET_ID: world.account.token,
    PYTHONDONTWRITEBYTECODE: "1",
  };
  const { exit, output } = await runUnittest(PYTHON, "test_hvac_kv", SUITE_DIR, env);
  assert.equal(exit, 0, `hvac suite exited with ${exit}:\n${output}`);
  assert.match(output, /^OK$/m, output);
  // hvac's requests are in the audit log like native ones: its reads and writes, under its own user agent.
  const events = (await must(world.admin("GET", "/api/v1/audit?action=secret.*&limit=1000"), 200, "audit")).events as { action: string; outcome: string; userAgent: string }[];
  const fromHvac = events.filter((e) => /python-requests/.test(e.userAgent));
  for (const action of ["secret.read", "secret.update", "secret.list"]) {
    assert.ok(fromHvac.some((e) => e.action === action && e.outcome === "ok"), `hvac's ${action} is audited`);
  }
});
