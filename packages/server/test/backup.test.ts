/**
 * Backups and restores, for every pair of stores (SQLite→SQLite, SQLite→
 * PostgreSQL, PostgreSQL→SQLite, PostgreSQL→PostgreSQL): every table comes
 * back row for row, every version of every secret reads the same, old tokens
 * still work; a backup taken while a writer keeps writing is one consistent
 * state; the file shows nothing readable; damaged, truncated, reordered or
 * foreign-key files, non-empty targets and newer schemas are refused, and a
 * restore that fails half-way leaves the target empty.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import { BackupCipher, BACKUP_CHUNK_BYTES, BACKUP_HEADER_BYTES, BackupDamagedError, BackupRootKeyError, decryptBackup, encryptBackup } from "../src/crypto/backup-cipher.ts";
import { openCoffer, type Coffer } from "../src/coffer.ts";
import { restoreBackup } from "../src/backup/restore.ts";
import { buildApp } from "../src/http/app.ts";
import { ROOT_KEY_FILE } from "../src/crypto/root-key.ts";
import { KNOWN_MIGRATIONS } from "../src/store/migrate.ts";
import { openStore, type Store } from "../src/store/store.ts";
import { STORES, tempDir, type StoreKind, type StoreTarget } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

type Api = (method: string, url: string, body?: unknown) => Promise<{ status: number; body: any }>;

const CANARY = "canary-7f3a91";

interface Env {
  target: StoreTarget;
  rootKey: string;
  coffer: Coffer;
  app: FastifyInstance;
  as(token: string): Api;
  admin: Api;
  adminToken: string;
}

/** A source (a fresh store) or, given `restored`, a restored store and the source whose root key and admin token it keeps. */
async function openEnv(t: TestContext, store: StoreKind, restored?: { from: Env; target: StoreTarget }): Promise<Env | null> {
  const rootKey = restored?.from.rootKey ?? randomBytes(32).toString("base64");
  const target = restored?.target;
  const opened = target ?? (await store.open(t));
  if (!opened) return null;
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: opened.dataDir, databaseUrl: opened.databaseUrl, rootKey });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const as =
    (token: string): Api =>
    async (method, url, body) => {
      const reply = await app.inject({ method: method as "GET", url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
      const json = String(reply.headers["content-type"] ?? "").startsWith("application/json");
      return { status: reply.statusCode, body: json ? reply.json() : reply.rawPayload };
    };
  const adminToken = restored?.from.adminToken ?? coffer.bootstrapToken ?? "";
  return { target: opened, rootKey, coffer, app, as, admin: as(adminToken), adminToken };
}

/** A PUT answers 201 when it created the secret, 200 when it added a version: WRITTEN takes either. */
const WRITTEN = [200, 201];

async function must(reply: Promise<{ status: number; body: any }>, status: number | number[], what: string): Promise<any> {
  const { status: got, body } = await reply;
  assert.ok([status].flat().includes(got), `${what} answered ${got} ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

const secretUrl = (name: string, suffix = "") => `/api/v1/workspaces/team/secrets/${encodeURIComponent(name)}${suffix}`;

interface Fixture {
  /** Every secret version written: the URL to read it and the value it must hold. */
  versions: { url: string; token: string; value: string }[];
  tokens: { admin: string; alice: string; bot: string };
}

/** Users, a workspace, groups, a service account, shared and personal secrets with several versions each, grants, tokens, and two data key versions. */
async function populate(env: Env): Promise<Fixture> {
  const { admin } = env;
  await must(admin("POST", "/api/v1/workspaces", { name: "team" }), 201, "workspace");
  await must(admin("POST", "/api/v1/users", { username: `alice-${CANARY}`, password: "alice-password-1" }), 201, "alice");
  await must(admin("POST", "/api/v1/users", { username: "bob" }), 201, "bob");
  await must(admin("PUT", `/api/v1/workspaces/team/members/alice-${CANARY}`, { role: "member" }), 200, "alice member");
  await must(admin("PUT", "/api/v1/workspaces/team/members/bob", { role: "admin" }), 200, "bob admin");
  await must(admin("POST", "/api/v1/workspaces/team/groups", { name: "readers" }), 201, "group");
  await must(admin("PUT", `/api/v1/workspaces/team/groups/readers/members/user:alice-${CANARY}`), 200, "group member");
  await must(admin("POST", "/api/v1/workspaces/team/service-accounts", { name: "bot" }), 201, "service account");
  const alice = (await must(env.app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username: `alice-${CANARY}`, password: "alice-password-1" } }).then((r) => ({ status: r.statusCode, body: r.json() })), 200, "login")).token as string;
  const bot = (await must(admin("POST", "/api/v1/workspaces/team/service-accounts/bot/tokens", { access: "read" }), 201, "bot token")).token as string;

  const versions: Fixture["versions"] = [];
  for (let s = 0; s < 4; s++) {
    const name = `app/${CANARY}-${s}`;
    for (let v = 1; v <= 3; v++) {
      const value = `${CANARY}-value-${s}-${v}`;
      await must(admin("PUT", secretUrl(name), { data: { password: value, host: "db.internal" } }), WRITTEN, `secret ${name} v${v}`);
      versions.push({ url: secretUrl(name, `/versions/${v}`), token: env.adminToken, value });
    }
    if (s === 1) await must(env.as(env.adminToken)("POST", "/api/v1/sys/keys/rotate"), 202, "key rotation");
  }
  // A value near the size limit: its row is larger than a backup chunk.
  const large = randomBytes(45_000).toString("base64");
  await must(admin("PUT", secretUrl("large"), { data: { password: large } }), WRITTEN, "large secret");
  versions.push({ url: secretUrl("large", "/versions/1"), token: env.adminToken, value: large });
  await must(admin("PUT", `${secretUrl(`app/${CANARY}-0`)}/grants/group:readers`, { level: "read" }), WRITTEN, "group grant");
  await must(admin("PUT", `${secretUrl(`app/${CANARY}-1`)}/grants/sa:bot`, { level: "read" }), WRITTEN, "service grant");
  versions.push({ url: secretUrl(`app/${CANARY}-0`, "/versions/3"), token: alice, value: `${CANARY}-value-0-3` });
  versions.push({ url: secretUrl(`app/${CANARY}-1`, "/versions/2"), token: bot, value: `${CANARY}-value-1-2` });
  const personal = env.as(alice);
  for (let v = 1; v <= 2; v++) {
    const value = `${CANARY}-personal-${v}`;
    await must(personal("PUT", `${secretUrl(`mine/${CANARY}`)}?scope=personal`, { data: { password: value } }), WRITTEN, `personal v${v}`);
    versions.push({ url: `${secretUrl(`mine/${CANARY}`, `/versions/${v}`)}?scope=personal`, token: alice, value });
  }
  await waitForRewrap(admin);
  return { versions, tokens: { admin: env.adminToken, alice, bot } };
}

async function waitForRewrap(admin: Api): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const status = await must(admin("GET", "/api/v1/sys/keys"), 200, "key status");
    if (status.rewrap.state !== "running") return;
    await sleep(25);
  }
  assert.fail("the re-wrap did not finish");
}

async function takeBackup(env: Env): Promise<Buffer> {
  const reply = await env.app.inject({ method: "GET", url: "/api/v1/sys/backup", headers: { authorization: `Bearer ${env.adminToken}` } });
  assert.equal(reply.statusCode, 200, reply.body);
  assert.equal(reply.headers["content-type"], "application/octet-stream");
  return reply.rawPayload;
}

/** Every row of every table, as sorted JSON lines per table: what must survive a round trip. */
async function contents(store: Store): Promise<Record<string, string[]>> {
  const snapshot = await store.snapshot();
  try {
    const out: Record<string, string[]> = {};
    for (const table of snapshot.tables) {
      const rows: string[] = [];
      for await (const batch of snapshot.rows(table)) {
        for (const row of batch) rows.push(JSON.stringify(Object.fromEntries(table.columns.map((column, i) => [column, row[i] instanceof Uint8Array ? Buffer.from(row[i]).toString("base64") : row[i]]))));
      }
      out[table.name] = rows.sort();
    }
    return out;
  } finally {
    await snapshot.close();
  }
}

async function* fileOf(bytes: Buffer, pieceBytes = 10_000): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += pieceBytes) yield bytes.subarray(at, at + pieceBytes);
}

/** A store target with nothing in it, of the given kind; null when that kind is unavailable here. */
async function emptyTarget(t: TestContext, kind: StoreKind): Promise<StoreTarget | null> {
  return kind.open(t);
}

// ---------------------------------------------------------------- the file format

test("backup files: tampering, truncation, reordering, appended data and another root key are all refused", async () => {
  const rootKey = randomBytes(32);
  const plaintext = randomBytes(BACKUP_CHUNK_BYTES * 2 + 1234);
  const encrypt = async (key = rootKey) => {
    const parts: Buffer[] = [];
    for await (const part of encryptBackup(new BackupCipher(key), fileOf(plaintext, 100_000))) parts.push(part);
    return Buffer.concat(parts);
  };
  const decrypt = async (file: Buffer, key = rootKey) => {
    const parts: Buffer[] = [];
    for await (const part of decryptBackup(fileOf(file, 3333), (header) => new BackupCipher(key, header))) parts.push(part);
    return Buffer.concat(parts);
  };
  const file = await encrypt();
  assert.deepEqual(await decrypt(file), plaintext, "round trip");
  assert.notDeepEqual((await encrypt()).subarray(0, BACKUP_HEADER_BYTES), file.subarray(0, BACKUP_HEADER_BYTES), "a fresh salt per file");

  const chunk = BACKUP_CHUNK_BYTES + 4 + 16;
  const flipped = Buffer.from(file);
  flipped[BACKUP_HEADER_BYTES + chunk + 100]! ^= 1;
  await assert.rejects(decrypt(flipped), BackupDamagedError, "a flipped bit");
  const header = Buffer.from(file);
  header[10]! ^= 1;
  await assert.rejects(decrypt(header), (error: Error) => error instanceof BackupRootKeyError || error instanceof BackupDamagedError, "an edited header");
  await assert.rejects(decrypt(file.subarray(0, BACKUP_HEADER_BYTES + 2 * chunk)), /ends before its last chunk/, "the last chunk cut off");
  await assert.rejects(decrypt(file.subarray(0, file.length - 5)), /ends inside a chunk/, "cut inside a chunk");
  const swapped = Buffer.concat([file.subarray(0, BACKUP_HEADER_BYTES), file.subarray(BACKUP_HEADER_BYTES + chunk, BACKUP_HEADER_BYTES + 2 * chunk), file.subarray(BACKUP_HEADER_BYTES, BACKUP_HEADER_BYTES + chunk), file.subarray(BACKUP_HEADER_BYTES + 2 * chunk)]);
  await assert.rejects(decrypt(swapped), BackupDamagedError, "two chunks swapped");
  await assert.rejects(decrypt(Buffer.concat([file, Buffer.from("more")])), BackupDamagedError, "data appended");
  const other = await encrypt();
  const spliced = Buffer.concat([file.subarray(0, BACKUP_HEADER_BYTES + chunk), other.subarray(BACKUP_HEADER_BYTES + chunk)]);
  await assert.rejects(decrypt(spliced), BackupDamagedError, "chunks of another backup");
  await assert.rejects(decrypt(file, randomBytes(32)), BackupRootKeyError, "another root key");
  assert.throws(() => new BackupCipher(Buffer.alloc(32)), /no root key is loaded/, "a cleared (sealed) keyring makes no backup anyone could open");
  await assert.rejects(decrypt(Buffer.from("not a backup at all, just text that is long enough for a header")), BackupDamagedError, "not a backup");
});

// ---------------------------------------------------------------- round trips

for (const from of STORES) {
  for (const to of STORES) {
    test(`backup ${from.kind} → restore ${to.kind}: every table row for row, every version readable, old tokens accepted`, async (t) => {
      const source = await openEnv(t, from);
      if (!source) return;
      const target = await emptyTarget(t, to);
      if (!target) return;
      const fixture = await populate(source);
      // What the backup must hold: everything up to now, the audit log and the alerts it raised included.
      await source.coffer.audit.drain();
      await source.coffer.alerts.settled();
      const before = await contents(source.coffer.store);
      const backup = await takeBackup(source);

      const text = backup.toString("latin1");
      for (const needle of [CANARY, "alice", "db.internal", "readers", "team", "password"]) {
        assert.ok(!text.includes(needle), `the backup file shows '${needle}'`);
        assert.ok(!text.includes(Buffer.from(needle).toString("base64")), `the backup file shows '${needle}' in base64`);
      }

      const progress: number[] = [];
      const { manifest } = await restoreBackup({ file: fileOf(backup), dataDir: target.dataDir, databaseUrl: target.databaseUrl, rootKey: source.rootKey, onProgress: (p) => progress.push(p.rowsDone) });
      assert.equal(manifest.dialect, from.kind);
      assert.deepEqual(manifest.migrations, KNOWN_MIGRATIONS);
      assert.deepEqual(manifest.keyVersions, [1, 2]);
      assert.equal(progress.at(-1), manifest.tables.reduce((sum, table) => sum + table.rows, 0));

      const restored = await openEnv(t, to, { from: source, target });
      assert.ok(restored);
      assert.equal(restored.coffer.bootstrapToken, null, "a restored store is initialised already");
      assert.deepEqual(await contents(restored.coffer.store), before, "every table, row for row");
      assert.equal((await restored.coffer.audit.verify()).ok, true, "the audit log's hash chain survives the move");
      for (const { url, token, value } of fixture.versions) {
        const read = await must(restored.as(token)("GET", url), 200, `read ${url}`);
        assert.equal(read.data.password, value, url);
      }
      // Old tokens authenticate, and their limits came along: the bot reads only what it was granted.
      assert.equal((await restored.as(fixture.tokens.bot)("GET", secretUrl(`app/${CANARY}-2`))).status, 404);
      assert.equal((await restored.as(fixture.tokens.alice)("GET", "/api/v1/users")).status, 403);
      // And the restored server writes: new versions, new key versions, new users.
      await must(restored.admin("PUT", secretUrl(`app/${CANARY}-0`), { data: { password: "after" } }), WRITTEN, "write after restore");
      await must(restored.admin("POST", "/api/v1/users", { username: "carol" }), 201, "user after restore");
      await must(restored.admin("POST", "/api/v1/sys/keys/rotate"), 202, "rotation after restore");
      await waitForRewrap(restored.admin);
      assert.equal((await must(restored.admin("GET", secretUrl(`app/${CANARY}-0`, "/versions/1")), 200, "old version after rotation")).data.password, `${CANARY}-value-0-1`);
    });
  }
}

// ---------------------------------------------------------------- consistency while writing

for (const store of STORES) {
  test(`a backup taken while a writer keeps writing is one consistent state (${store.kind})`, async (t) => {
    const source = await openEnv(t, store);
    if (!source) return;
    const target = await emptyTarget(t, store);
    if (!target) return;
    await must(source.admin("POST", "/api/v1/workspaces", { name: "team" }), 201, "workspace");
    const names = Array.from({ length: 30 }, (_, i) => `load/${i}`);
    const bulk = randomBytes(3000).toString("base64");
    for (let v = 0; v < 8; v++) for (const name of names) await must(source.admin("PUT", secretUrl(name), { data: { bulk, v: String(v) } }), WRITTEN, "bulk write");

    let writing = true;
    let writes = 0;
    const writer = (async () => {
      while (writing) {
        await must(source.admin("PUT", secretUrl(names[writes % names.length]!), { data: { bulk, v: `w${writes}` } }), WRITTEN, "concurrent write");
        writes++;
      }
    })();
    // Over real HTTP and read slowly, so the writer commits many times while the snapshot is being read.
    const url = await source.app.listen({ host: "127.0.0.1", port: 0 });
    const response = await fetch(`${url}/api/v1/sys/backup`, { headers: { authorization: `Bearer ${source.adminToken}` } });
    assert.equal(response.status, 200);
    const parts: Buffer[] = [];
    const writesAtStart = writes;
    for await (const part of response.body!) {
      parts.push(Buffer.from(part));
      // The snapshot stays open until the last chunk: hold the first until the writer has committed a few times.
      for (let waited = 0; parts.length === 1 && writes - writesAtStart < 5 && waited < 30_000; waited += 10) await sleep(10);
      await sleep(10);
    }
    writing = false;
    await writer;
    assert.ok(writes - writesAtStart >= 5, `the writer wrote during the backup (${writes - writesAtStart} writes)`);

    const backup = Buffer.concat(parts);
    await restoreBackup({ file: fileOf(backup), dataDir: target.dataDir, databaseUrl: target.databaseUrl, rootKey: source.rootKey });
    const restored = await openEnv(t, store, { from: source, target });
    assert.ok(restored);
    const rows = await contents(restored.coffer.store);
    const secrets = rows.secrets!.map((line) => JSON.parse(line) as { id: string; current_version: number });
    const versions = rows.secret_versions!.map((line) => JSON.parse(line) as { secret_id: string; version: number });
    for (const secret of secrets) {
      const own = versions.filter((version) => version.secret_id === secret.id).map((version) => version.version);
      assert.ok(own.includes(secret.current_version), `secret ${secret.id}: its current version ${secret.current_version} has its row`);
      assert.ok(Math.max(...own) === secret.current_version, `secret ${secret.id}: no version beyond the current one (${own.join(",")} vs ${secret.current_version})`);
    }
    for (const name of names) await must(restored.admin("GET", secretUrl(name)), 200, `read ${name} after restore`);
  });
}

// ---------------------------------------------------------------- refusals

for (const store of STORES) {
  test(`a restore refuses another root key, a non-empty store, a newer schema and a damaged file, and a failed restore leaves the store empty (${store.kind})`, async (t) => {
    const source = await openEnv(t, store);
    if (!source) return;
    await must(source.admin("POST", "/api/v1/workspaces", { name: "team" }), 201, "workspace");
    const bulk = randomBytes(6000).toString("base64");
    for (let i = 0; i < 60; i++) await must(source.admin("PUT", secretUrl(`bulk/${i}`), { data: { bulk } }), WRITTEN, "bulk");
    await source.coffer.audit.drain();
    await source.coffer.alerts.settled();
    const atBackup = await contents(source.coffer.store);
    const backup = await takeBackup(source);
    assert.ok(backup.length > 4 * BACKUP_CHUNK_BYTES, "several chunks");

    // Another root key: refused before the target is touched.
    const wrongKey = await emptyTarget(t, store);
    if (!wrongKey) return;
    await assert.rejects(
      restoreBackup({ file: fileOf(backup), dataDir: wrongKey.dataDir, databaseUrl: wrongKey.databaseUrl, rootKey: randomBytes(32).toString("base64") }),
      /made with another root key.*nothing was changed/,
    );
    if (!wrongKey.databaseUrl) assert.ok(!existsSync(join(wrongKey.dataDir, "coffer.db")), "no store file made");
    // No root key at all: refused, and none is made up.
    await assert.rejects(restoreBackup({ file: fileOf(backup), dataDir: wrongKey.dataDir, databaseUrl: wrongKey.databaseUrl }), /no root key/);
    assert.ok(!existsSync(join(wrongKey.dataDir, ROOT_KEY_FILE)));

    // A non-empty store: refused, and left as it was. An embedded one is refused sooner while a server has it open (store-lock.ts).
    const busy = await emptyTarget(t, store);
    if (!busy) return;
    const busyCoffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: busy.dataDir, databaseUrl: busy.databaseUrl, rootKey: source.rootKey });
    await busyCoffer.audit.drain();
    await busyCoffer.alerts.settled();
    const busyBefore = await contents(busyCoffer.store);
    const restoreIntoBusy = () => restoreBackup({ file: fileOf(backup), dataDir: busy.dataDir, databaseUrl: busy.databaseUrl, rootKey: source.rootKey });
    if (!busy.databaseUrl) await assert.rejects(restoreIntoBusy(), /^RestoreError: restore failed \(the store in \S+ is open in another Coffer process .*\); nothing was changed$/);
    await busyCoffer.close();
    await assert.rejects(restoreIntoBusy(), /^RestoreError: the target store is not empty \(rows in [a-z_, ]+\): restore into a new data directory or an empty database; nothing was changed$/);
    const busyAfter = await openStore({ dataDir: busy.dataDir, databaseUrl: busy.databaseUrl });
    try {
      assert.deepEqual(await contents(busyAfter), busyBefore);
    } finally {
      await busyAfter.close();
    }

    // A backup from a newer schema: refused.
    const newer = await emptyTarget(t, store);
    if (!newer) return;
    const manifest = { format: 1, createdAt: new Date().toISOString(), dialect: store.kind, migrations: [...KNOWN_MIGRATIONS, "9999-from-the-future"], keyVersions: [1], tables: [] };
    const future: Buffer[] = [];
    for await (const part of encryptBackup(new BackupCipher(Buffer.from(source.rootKey, "base64")), fileOf(Buffer.from(`${JSON.stringify({ manifest })}\n{"end":{"rows":0}}\n`)))) future.push(part);
    await assert.rejects(
      restoreBackup({ file: fileOf(Buffer.concat(future)), dataDir: newer.dataDir, databaseUrl: newer.databaseUrl, rootKey: source.rootKey }),
      /newer Coffer.*9999-from-the-future.*nothing was changed/,
    );

    // Damaged deep inside (after rows went in) or cut short: rolled back, the store empty, and a good restore then succeeds on it.
    const target = await emptyTarget(t, store);
    if (!target) return;
    const damaged = Buffer.from(backup);
    damaged[damaged.length - BACKUP_CHUNK_BYTES]! ^= 0x40;
    await assert.rejects(
      restoreBackup({ file: fileOf(damaged), dataDir: target.dataDir, databaseUrl: target.databaseUrl, rootKey: source.rootKey }),
      /damaged.*rolled back and the target store is empty/,
    );
    await assert.rejects(
      restoreBackup({ file: fileOf(backup.subarray(0, backup.length - 100)), dataDir: target.dataDir, databaseUrl: target.databaseUrl, rootKey: source.rootKey }),
      /ends inside a chunk.*rolled back/,
    );
    await restoreBackup({ file: fileOf(backup), dataDir: target.dataDir, databaseUrl: target.databaseUrl, rootKey: source.rootKey });
    const restored = await openEnv(t, store, { from: source, target });
    assert.ok(restored);
    assert.deepEqual(await contents(restored.coffer.store), atBackup);
  });
}

test("a restore into a data directory takes the root key from its key file (SQLite)", async (t) => {
  const fromFile = tempDir();
  const keySource = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: fromFile });
  const keyFileApp = await buildApp(keySource);
  t.after(async () => {
    await keyFileApp.close();
    await keySource.close();
  });
  const reply = await keyFileApp.inject({ method: "GET", url: "/api/v1/sys/backup", headers: { authorization: `Bearer ${keySource.bootstrapToken}` } });
  assert.equal(reply.statusCode, 200);
  const target = tempDir();
  copyFileSync(join(fromFile, ROOT_KEY_FILE), join(target, ROOT_KEY_FILE));
  await restoreBackup({ file: fileOf(reply.rawPayload), dataDir: target });
  const restored = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target });
  t.after(() => restored.close());
  const app = await buildApp(restored);
  t.after(() => app.close());
  const self = await app.inject({ method: "GET", url: "/api/v1/auth/token/self", headers: { authorization: `Bearer ${keySource.bootstrapToken}` } });
  assert.equal(self.statusCode, 200, "the bootstrap token of the source works on the restored store");
});

// ---------------------------------------------------------------- tables nobody listed

/** A table of the kind a later migration adds (foreign key, bytes, a generated id), made here so no code knows its name. */
async function addUnlistedTable(store: Store): Promise<void> {
  const id = store.dialect.kind === "postgres" ? "serial" : "integer";
  await store.db.schema
    .createTable("zz_unlisted")
    .addColumn("seq", id as "integer", (c) => (store.dialect.kind === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id"))
    .addColumn("payload", store.dialect.binaryType, (c) => c.notNull())
    .execute();
}

for (const [from, to] of [[STORES[0]!, STORES[1]!], [STORES[1]!, STORES[0]!]] as const) {
  test(`a table no code lists is backed up and restored too, its generated ids continuing after the restored ones (${from.kind} → ${to.kind})`, async (t) => {
    const source = await openEnv(t, from);
    if (!source) return;
    const target = await emptyTarget(t, to);
    if (!target) return;
    await addUnlistedTable(source.coffer.store);
    const workspace = (await must(source.admin("GET", "/api/v1/workspaces/default"), 200, "workspace")).id as string;
    const payloads = [randomBytes(40), randomBytes(3), Buffer.alloc(0)];
    for (const payload of payloads) await source.coffer.store.db.withoutPlugins().insertInto("zz_unlisted" as never).values({ workspace_id: workspace, payload } as never).execute();
    const backup = await takeBackup(source);

    // The target gets the same table the way a migration would give it: empty.
    const prepared = await openStore({ dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    await addUnlistedTable(prepared);
    await prepared.close();

    await restoreBackup({ file: fileOf(backup), dataDir: target.dataDir, databaseUrl: target.databaseUrl, rootKey: source.rootKey });
    const restored = await openEnv(t, to, { from: source, target });
    assert.ok(restored);
    const rows = await contents(restored.coffer.store);
    assert.deepEqual(rows.zz_unlisted, (await contents(source.coffer.store)).zz_unlisted);
    assert.equal(rows.zz_unlisted!.length, 3);
    await restored.coffer.store.db.withoutPlugins().insertInto("zz_unlisted" as never).values({ workspace_id: workspace, payload: Buffer.from("new") } as never).execute();
    const seqs = (await contents(restored.coffer.store)).zz_unlisted!.map((line) => (JSON.parse(line) as { seq: number }).seq).sort((a, b) => a - b);
    assert.deepEqual(seqs, [1, 2, 3, 4], "the new row's id comes after the restored ones");
  });
}
