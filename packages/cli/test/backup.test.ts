/**
 * `coffer operator backup` against a running server and `coffer operator
 * restore` into a fresh data directory, through the real CLI: the file is
 * 0600 and never overwritten by accident, progress goes to stderr, and the
 * restored server answers the old token with the old values.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { ok, run, tempDir } from "./support/cli.ts";

test("operator backup writes a 0600 file from the running server; operator restore brings it back into a fresh data directory", async (t) => {
  const source = (await STORES[0]!.open(t))!;
  const server = await startServer(t, source);
  const admin = { COFFER_ADDR: server.url, COFFER_TOKEN: server.token!, COFFER_CONFIG_DIR: join(tempDir(), "config") };
  const coffer = (args: string[], env: Record<string, string> = {}, input?: string) => run(args, { env: { ...admin, ...env }, ...(input === undefined ? {} : { input }) });
  ok(await coffer(["secrets", "set", "DATABASE_URL"], {}, "postgres://app:s3cret-canary@db/app\n"));
  ok(await coffer(["secrets", "set", "DATABASE_URL"], {}, "postgres://app:s3cret-canary-2@db/app\n"));

  const dir = tempDir();
  const file = join(dir, "coffer.cbk");
  const made = ok(await coffer(["operator", "backup", file]));
  assert.match(made.stderr, /\d+ tables, \d+ rows/, "progress on stderr");
  assert.match(made.stdout, /^Wrote .*coffer\.cbk \(.*\): \d+ tables, \d+ rows\. Restoring it needs this server's root key\.$/m);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(!readFileSync(file).toString("latin1").includes("s3cret-canary"), "no value in the file");
  assert.deepEqual(readdirSync(dir), ["coffer.cbk"], "no temp file left behind");

  const again = await coffer(["operator", "backup", file]);
  assert.equal(again.code, 6);
  assert.match(again.stderr, /coffer\.cbk exists; --force overwrites it/);
  ok(await coffer(["operator", "backup", file, "--force"]));

  const denied = await coffer(["operator", "backup", join(dir, "other.cbk")], { COFFER_TOKEN: ok(await coffer(["tokens", "create", "--access", "read"])).stdout.trim() });
  assert.equal(denied.code, 4, "a narrowed admin token may not take backups");
  assert.ok(!existsSync(join(dir, "other.cbk")));

  // Another root key: refused, nothing written.
  const target = tempDir();
  const wrongKey = await run(["operator", "restore", file, "--data-dir", target], { env: { COFFER_ROOT_KEY: randomBytes(32).toString("base64") } });
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /made with another root key.*nothing was changed/);
  assert.ok(!existsSync(join(target, "coffer.db")));

  // The key file copied into the new data directory: restored.
  copyFileSync(join(source.dataDir, "root.key"), join(target, "root.key"));
  const restored = ok(await run(["operator", "restore", file, "--data-dir", target]));
  assert.match(restored.stdout, /^Restored .* into .*coffer\.db: \d+ tables, \d+ rows \(a backup of a sqlite store taken .*\)\.$/m);
  const twice = await run(["operator", "restore", file, "--data-dir", target]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /not empty/);

  const damaged = join(dir, "damaged.cbk");
  const bytes = readFileSync(file);
  bytes[bytes.length - 30]! ^= 1;
  writeFileSync(damaged, bytes);
  const fresh = tempDir();
  copyFileSync(join(source.dataDir, "root.key"), join(fresh, "root.key"));
  const refused = await run(["operator", "restore", damaged, "--data-dir", fresh]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /damaged/);

  await server.stop();
  const back = await startServer(t, { kind: "sqlite", dataDir: target, databaseUrl: undefined });
  assert.equal(back.token, null, "the restored store is initialised already");
  const read = ok(await run(["secrets", "get", "DATABASE_URL", "value"], { env: { ...admin, COFFER_ADDR: back.url } }));
  assert.equal(read.stdout, "postgres://app:s3cret-canary-2@db/app");
  const history = JSON.parse(ok(await run(["secrets", "history", "DATABASE_URL", "--json"], { env: { ...admin, COFFER_ADDR: back.url } })).stdout) as { version: number }[];
  assert.deepEqual(history.map((v) => v.version).sort(), [1, 2], "both versions came back");
});

test("operator backup and restore: usage errors", async () => {
  const missing = await run(["operator", "backup"]);
  assert.equal(missing.code, 2);
  const mixed = await run(["operator", "backup", "x.cbk", "--data-dir", "d"]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /--data-dir and --database-url are for restore/);
  const help = ok(await run(["operator", "backup", "--help"]));
  assert.match(help.stdout, /Usage: coffer operator backup FILE/);
  const absent = await run(["operator", "restore", "/nonexistent/backup.cbk"]);
  assert.equal(absent.code, 5);
});
