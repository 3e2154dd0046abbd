/**
 * The Python client's relay (clients/python/test_relay.py) against a real
 * server: relay(), relay_policy() and set_relay_policy(), with a local
 * upstream the Python suite runs itself. The value passed as the canary must
 * never show in the server's log.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { PYTHON, pythonUnavailable, runUnittest } from "./support/python.ts";
import { startServer } from "./support/server.ts";
import { STORES } from "./support/stores.ts";

const CLIENT_DIR = fileURLToPath(new URL("../../../clients/python/", import.meta.url));

test("the Python client relays with placeholders and never returns a value", async (t) => {
  const reason = pythonUnavailable();
  if (reason) {
    t.skip(reason);
    return;
  }
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const canary = `py-relay-canary-${randomBytes(8).toString("hex")}`;
  const env: NodeJS.ProcessEnv = { ...process.env, COFFER_ADDR: server.url, COFFER_TOKEN: server.token!, COFFER_TEST_CANARY: canary, PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" };
  delete env.COFFER_WORKSPACE;
  const { exit, output } = await runUnittest(PYTHON, "test_relay", CLIENT_DIR, env);
  assert.equal(exit, 0, `${PYTHON} -m unittest exited with ${exit}:\n${output}`);
  assert.match(output, /^OK$/m, `every test passed, none skipped:\n${output}`);
  assert.ok(!output.includes(canary), "no value in the suite's output");
  assert.ok(!server.output().includes(canary), "the server log never holds a value");
});
