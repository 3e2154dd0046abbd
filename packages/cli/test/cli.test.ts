import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { COFFER_BIN, startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";

/** No saved login: a config directory that does not exist. */
const NO_CONFIG = join(tmpdir(), `coffer-no-config-${process.pid}`);

function coffer(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [COFFER_BIN, ...args], { encoding: "utf8", env: { ...process.env, COFFER_TOKEN: "", COFFER_CONFIG_DIR: NO_CONFIG, ...env }, timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("--help lists the commands and the exit codes", () => {
  const help = coffer(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /server/);
  assert.match(help.stdout, /operator/);
  assert.match(help.stdout, /Exit codes:/);
  assert.match(coffer(["server", "--help"]).stdout, /--database-url URL/);
  assert.match(coffer(["operator", "--help"]).stdout, /rotate-key/);
});

test("bad usage exits 2 with a message naming the problem", () => {
  const unknown = coffer(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const listen = coffer(["server", "--listen", "nowhere"]);
  assert.equal(listen.code, 2);
  assert.match(listen.stderr, /--listen takes HOST:PORT/);
  assert.equal(coffer(["server", "--bogus"]).code, 2);
  const sync = coffer(["server", "--audit-sync", "sometimes"]);
  assert.equal(sync.code, 2);
  assert.match(sync.stderr, /--audit-sync takes changes or always/);
  assert.equal(coffer(["operator", "spin"]).code, 2);
});

test("operator commands explain a missing token, a refused one and an unreachable server", async (t) => {
  const noToken = coffer(["operator", "key-status"]);
  assert.equal(noToken.code, 3);
  assert.match(noToken.stderr, /COFFER_TOKEN/);
  const unreachable = coffer(["operator", "key-status", "--addr", "http://127.0.0.1:1"], { COFFER_TOKEN: "cft_x" });
  assert.equal(unreachable.code, 7);
  assert.match(unreachable.stderr, /cannot reach the server/);
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const refused = coffer(["operator", "key-status", "--addr", server.url], { COFFER_TOKEN: "cft_" + "A".repeat(49) });
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /UNAUTHENTICATED/);
  const status = coffer(["operator", "key-status", "--addr", server.url], { COFFER_TOKEN: server.token! });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /Key version in use: 1/);
});

test("the root key file is created with mode 0600 and the bootstrap token is printed once", async (t) => {
  const { statSync } = await import("node:fs");
  const { join } = await import("node:path");
  const target = await STORES[0]!.open(t);
  const first = await startServer(t, target!);
  assert.ok(first.token);
  assert.equal(statSync(join(target!.dataDir, "root.key")).mode & 0o777, 0o600);
  await first.stop();
  const second = await startServer(t, target!);
  assert.equal(second.token, null, "a restart does not print a token again");
  assert.doesNotMatch(second.output(), /cft_/);
});

test("a closed pipe on the output ends the command quietly with 141, as it ends any command", async () => {
  const child = spawn(process.execPath, [COFFER_BIN, "--help"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, COFFER_CONFIG_DIR: NO_CONFIG } });
  child.stdout.destroy(); // the reader is gone before coffer writes a line, as `coffer … | head -0` would leave it
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  assert.equal(stderr, "");
  assert.equal(code, 141);
});
