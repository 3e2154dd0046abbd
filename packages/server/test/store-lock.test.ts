/**
 * The embedded store serves one server: its caches hear only its own writes
 * (store/changes.ts), so a second server on the same data directory would
 * keep accepting a token the first revoked. The second one refuses to start;
 * a server killed outright leaves no lock behind.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openStore, SQLITE_FILE } from "../src/store/store.ts";
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

test("a store that fails to open leaves it unlocked, for a later try in the same process", async () => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, SQLITE_FILE), "this is no SQLite database, but a file of the same name");
  await assert.rejects(openStore({ dataDir }), /cannot open the store .*coffer\.db: file is not a database/);
  await assert.rejects(openStore({ dataDir }), (error: Error) => !(error instanceof StoreInUseError), "not refused as open elsewhere");
  rmSync(join(dataDir, SQLITE_FILE));
  const store = await openStore({ dataDir });
  await store.close();
});
