/**
 * The Python client (clients/python/coffer) against a real server: runs its
 * unittest suite with python3, COFFER_ADDR and COFFER_TOKEN pointing at a
 * fresh SQLite-backed server. Without python3 the test is skipped, except in
 * CI (CI=true), where it fails.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
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
