/**
 * `coffer operator migrate`: a populated embedded SQLite store moved into
 * PostgreSQL by the real CLI, then a server started on PostgreSQL reads
 * everything back and the audit chain verifies.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Coffer } from "@coffer/sdk";
import { createTestDatabase, postgresUnavailable } from "./support/postgres.ts";
import { COFFER_BIN, startServer } from "./support/server.ts";
import { tempDir } from "./support/stores.ts";

const WS = "/api/v1/workspaces/default";

function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [COFFER_BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

async function call(url: string, token: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

test("operator migrate --help says what it does", async () => {
  const help = await cli(["operator", "migrate", "--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: coffer operator migrate --to postgres:\/\//);
  assert.match(help.stdout, /--replace/);
});

test("a populated SQLite store migrates into PostgreSQL and a server there reads everything back with a verifying audit chain", async (t) => {
  const reason = await postgresUnavailable();
  if (reason) return t.skip(reason);
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const dataDir = tempDir();
  const env = { COFFER_ROOT_KEY: randomBytes(32).toString("base64") };

  // Populate through a real server on SQLite: versions, a user with a grant, audit events.
  const sqlite = await startServer(t, { kind: "sqlite", dataDir, databaseUrl: undefined }, env);
  const admin = sqlite.token!;
  const sdk = new Coffer({ addr: sqlite.url, token: admin, workspace: "default" });
  await sdk.secrets.create("db/password", { value: "v1" });
  await sdk.secrets.update("db/password", { value: "v2" });
  await sdk.secrets.update("db/password", { value: "v3" });
  await sdk.secrets.create("api", { key: "k", secret: "s" }, { label: "API" });
  assert.equal((await call(sqlite.url, admin, "POST", "/api/v1/users", { username: "ann", password: "a long passphrase" })).status, 201);
  assert.equal((await call(sqlite.url, admin, "PUT", `${WS}/members/ann`, { role: "member" })).status, 200);
  assert.equal((await call(sqlite.url, admin, "PUT", `${WS}/secrets/api/grants/user:ann`, { level: "read" })).status, 200);
  const before = (await call(sqlite.url, admin, "GET", "/api/v1/audit/verify")).body;
  assert.equal(before.ok, true);
  await sqlite.stop();

  const migrated = await cli(["operator", "migrate", "--data-dir", dataDir, "--to", database.url]);
  assert.equal(migrated.status, 0, migrated.stderr);
  assert.match(migrated.stderr, /copy: table \d+\/\d+ \(\w+\), row \d+\/\d+/, "progress on stderr");
  assert.match(migrated.stderr, /verify: \w+: \d+ rows/);
  assert.match(migrated.stdout, /counts match and the audit chain verifies \(\d+ events\)/);
  assert.ok(!migrated.stdout.includes("v3") && !migrated.stderr.includes("v3"), "no value in the output");

  const again = await cli(["operator", "migrate", "--data-dir", dataDir, "--to", database.url]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /the target database is not empty .*--replace/);
  const replaced = await cli(["operator", "migrate", "--data-dir", dataDir, "--to", database.url, "--replace"]);
  assert.equal(replaced.status, 0, replaced.stderr);

  // A node on PostgreSQL, with the root key the SQLite server used and a data directory of its own.
  const node = await startServer(t, { kind: "postgres", dataDir: tempDir(), databaseUrl: database.url }, env);
  assert.equal(node.token, null, "the store was already initialised: no new bootstrap token");
  const onPg = new Coffer({ addr: node.url, token: admin, workspace: "default" });
  assert.equal((await onPg.secrets.get("db/password")).data.value, "v3");
  assert.equal((await onPg.secrets.get("db/password", { version: 1 })).data.value, "v1");
  assert.deepEqual((await onPg.secrets.versions("db/password")).map((v) => v.version), [3, 2, 1]);
  assert.deepEqual((await onPg.secrets.get("api")).data, { key: "k", secret: "s" });
  const ann = (await call(node.url, null, "POST", "/api/v1/auth/login", { username: "ann", password: "a long passphrase" })).body.token as string;
  assert.equal((await call(node.url, ann, "GET", `${WS}/secrets/api`)).body.data.secret, "s", "ann's grant came along");
  assert.equal((await call(node.url, ann, "GET", `${WS}/secrets/db%2Fpassword`)).status, 404, "and nothing more");
  const after = (await call(node.url, admin, "GET", "/api/v1/audit/verify")).body;
  assert.equal(after.ok, true, JSON.stringify(after));
  assert.ok(after.checked > before.checked, `the chain goes on from SQLite's events (${before.checked}) on PostgreSQL (${after.checked})`);
  await node.stop();
});
