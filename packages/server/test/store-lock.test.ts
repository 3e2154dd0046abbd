/**
 * The embedded store serves one server: its caches hear only its own writes
 * (store/changes.ts), so a second server on the same data directory would
 * keep accepting a token the first revoked. The second one refuses to start;
 * a server killed outright leaves no lock behind.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openStore } from "../src/store/store.ts";
import { LOCK_FILE, StoreInUseError } from "../src/store/store-lock.ts";
import { COFFER_BIN, startServer } from "./support/server.ts";
import { tempDir } from "./support/stores.ts";

test("a second server on the same embedded store refuses to start; a killed server leaves no lock", async (t) => {
  const dataDir = tempDir();
  const first = await startServer(t, { kind: "sqlite", dataDir, databaseUrl: undefined });
  assert.equal(statSync(join(dataDir, LOCK_FILE)).mode & 0o777, 0o600);

  const second = spawn(process.execPath, [COFFER_BIN, "server", "--listen", "127.0.0.1:0", "--data-dir", dataDir], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => second.kill("SIGKILL"));
  let output = "";
  second.stdout.on("data", (chunk) => (output += chunk));
  second.stderr.on("data", (chunk) => (output += chunk));
  const [code] = await once(second, "exit");
  assert.equal(code, 1, output);
  assert.match(output, /is open in another Coffer process/);
  assert.match(output, /PostgreSQL \(--database-url\)/);
  assert.doesNotMatch(output, /Listening on/);
  assert.deepEqual(readdirSync(dataDir).filter((file) => file.startsWith(LOCK_FILE)), [LOCK_FILE], "no journal beside the lock");
  // The first one goes on serving.
  assert.equal((await fetch(`${first.url}/api/v1/sys/health`)).status, 200);
  await assert.rejects(openStore({ dataDir }), StoreInUseError, "in this process too");

  await first.kill();
  const store = await openStore({ dataDir });
  await assert.rejects(openStore({ dataDir }), StoreInUseError, "held while open");
  await store.close();
  const again = await openStore({ dataDir });
  await again.close();
});
