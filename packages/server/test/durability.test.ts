/**
 * Durability and concurrency, black-box over HTTP against real `coffer server`
 * processes, once per store: acknowledged writes survive a SIGKILL;
 * check-and-set loses no update (on one node, and on two PostgreSQL nodes
 * sharing a database); a data key rotation re-wraps every version while reads
 * keep working (and a rotation asked for during a re-wrap, or right after
 * one, is honoured and reported as its own); a restart keeps every version;
 * two nodes may initialise one empty PostgreSQL at the same time.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { KNOWN_MIGRATIONS } from "../src/store/migrate.ts";
import { client, secretsPath, type Reply } from "./support/http.ts";
import { createTestDatabase } from "./support/postgres.ts";
import { COFFER_BIN, startServer, type RunningServer } from "./support/server.ts";
import { STORES, tempDir, type StoreTarget } from "./support/stores.ts";

type Api = ReturnType<typeof client>;

const WS = "default";
const TEST_TIMEOUT = 180_000;

// ---------------------------------------------------------------- helpers

/** A fresh base64 root key, for nodes that must share one (COFFER_ROOT_KEY). */
function randomRootKey(): string {
  return randomBytes(32).toString("base64");
}

/** Runs `fn` over `items` with at most `width` calls in flight. */
async function inParallel<T>(items: readonly T[], width: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await fn(items[index]!, index);
      }
    }),
  );
}

/** Polls `probe` until it returns a value, or fails with what it last saw. */
async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, lastSeen?: () => unknown): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(lastSeen?.())}`);
    await sleep(50);
  }
}

interface KeyStatus {
  keyVersion: number;
  keys: { version: number; createdAt: string; secretVersions: number }[];
  rewrap: { state: string; targetKeyVersion: number; done: number; total: number; error: string | null };
}

/** Waits until the re-wrap onto `keyVersion` has finished (a "done" of an earlier run does not count). */
async function waitForRewrap(api: Api, keyVersion: number): Promise<KeyStatus> {
  let last: Reply<KeyStatus> | undefined;
  return waitFor(
    `the re-wrap onto key ${keyVersion}`,
    60_000,
    async () => {
      last = await api<KeyStatus>("GET", "/api/v1/sys/keys");
      assert.equal(last.status, 200, JSON.stringify(last.body));
      assert.notEqual(last.body.rewrap.state, "failed", `re-wrap failed: ${JSON.stringify(last.body.rewrap)}`);
      return last.body.rewrap.state === "done" && last.body.rewrap.targetKeyVersion === keyVersion ? last.body : undefined;
    },
    () => last?.body,
  );
}

/** key_version -> rows of secret_versions, read straight from the store (the server should be stopped for SQLite). */
async function storedKeyVersions(target: StoreTarget): Promise<Map<number, number>> {
  const query = "select key_version, count(*) as n from secret_versions group by key_version order by key_version";
  if (target.databaseUrl) {
    const db = new pg.Client({ connectionString: target.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ key_version: number; n: string }>(query);
      return new Map(rows.map((row) => [Number(row.key_version), Number(row.n)]));
    } finally {
      await db.end();
    }
  }
  const db = new DatabaseSync(join(target.dataDir, "coffer.db"), { readOnly: true });
  try {
    const rows = db.prepare(query).all() as { key_version: number; n: number }[];
    return new Map(rows.map((row) => [Number(row.key_version), Number(row.n)]));
  } finally {
    db.close();
  }
}

/** Runs the real CLI as a child process, bounded in time. */
function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.COFFER_ADDR;
    const child = spawn(process.execPath, [COFFER_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: childEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`coffer ${args.join(" ")} did not finish within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// ------------------------------------------- 1. acknowledged writes survive SIGKILL

/**
 * One value written to a secret. `seq` is a global send counter taken just
 * before the request goes out; `ackSeq` is the global counter when its 2xx
 * arrived. A write whose seq is above another write's ackSeq was sent after
 * that one was acknowledged, so it must land after it.
 */
interface Attempt {
  value: string;
  seq: number;
  outcome: "pending" | "acked" | "refused" | "lost";
  ackSeq: number;
  status?: number;
}

const WRITE_LOOPS = 64;
const OWNED_PER_LOOP = 2;
const WRITE_FOR_MS = 1500;
const ENOUGH_ACKED = 50;

for (const store of STORES) {
  test(`every acknowledged write survives a SIGKILL of the server (${store.kind})`, { timeout: TEST_TIMEOUT }, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const first = await startServer(t, target);
    assert.ok(first.token, "the first start prints a bootstrap token");
    const token = first.token;
    const api = client(first.url, token);

    let seq = 0;
    let stop = false;
    // Each owned secret is written by one loop only, one request at a time, so its values are totally ordered.
    const owned = new Map<string, Attempt[]>();
    // One secret every loop writes at once: only real-time order binds it.
    const HOT = "crash/hot";
    const hot: Attempt[] = [];
    const created = new Map<string, Attempt>();
    const unexpected: string[] = [];
    // Every answered request, read or write: its audit event was written before the answer, so it survives too.
    const answered = new Set<string>();
    const noteAnswer = (reply: Reply) => {
      const id = reply.headers.get("x-request-id");
      if (id) answered.add(id);
    };

    async function send(method: string, path: string, body: unknown, attempt: Attempt, allowed: (reply: Reply) => boolean): Promise<void> {
      attempt.seq = ++seq;
      try {
        const reply = await api(method, path, body);
        noteAnswer(reply);
        attempt.status = reply.status;
        if (reply.status >= 200 && reply.status < 300) {
          attempt.outcome = "acked";
          attempt.ackSeq = seq;
        } else {
          attempt.outcome = "refused";
          if (!allowed(reply) && !stop) unexpected.push(`${method} ${path} -> ${reply.status} ${JSON.stringify(reply.body)}`);
        }
      } catch {
        // No answer: the request may or may not have landed.
        attempt.outcome = "lost";
      }
    }

    const loops = Array.from({ length: WRITE_LOOPS }, async (_, loop) => {
      const mine = Array.from({ length: OWNED_PER_LOOP }, (_, k) => `crash/loop-${loop}/s-${k}`);
      for (const name of mine) owned.set(name, []);
      for (let i = 0; i < 100_000 && !stop; i++) {
        const dice = i % 10;
        if (dice === 9) {
          const name = `crash/created/loop-${loop}-${i}`;
          const attempt: Attempt = { value: `created-${loop}-${i}`, seq: 0, outcome: "pending", ackSeq: Infinity };
          created.set(name, attempt);
          await send("POST", secretsPath(WS), { name, data: { n: attempt.value } }, attempt, () => false);
        } else if (dice === 4) {
          const attempt: Attempt = { value: `hot-${loop}-${i}`, seq: 0, outcome: "pending", ackSeq: Infinity };
          hot.push(attempt);
          // Unconditional writes to one secret retry inside the server; under heavy contention it may give up with 409.
          await send("PUT", secretsPath(WS, HOT), { data: { n: attempt.value } }, attempt, (reply) => reply.status === 409);
        } else {
          const name = mine[i % OWNED_PER_LOOP]!;
          const values = owned.get(name)!;
          const attempt: Attempt = { value: String(values.length), seq: 0, outcome: "pending", ackSeq: Infinity };
          values.push(attempt);
          await send("PUT", secretsPath(WS, name), { data: { n: attempt.value } }, attempt, () => false);
        }
      }
    });

    // Reads alongside: their events are written before the answer but synced to disk only soon after.
    const reads = Array.from({ length: 2 }, async (_, loop) => {
      for (let i = 0; !stop; i++) {
        const reply = await api("GET", secretsPath(WS, `crash/loop-${loop}/s-0`)).catch(() => null);
        if (reply) noteAnswer(reply);
      }
    });

    // Writes go on until enough are acknowledged to prove something (a slow machine takes longer), then the kill.
    const ackedSoFar = () => [...[...owned.values()].flat(), ...hot, ...created.values()].filter((a) => a.outcome === "acked").length;
    const started = Date.now();
    await sleep(WRITE_FOR_MS);
    while (ackedSoFar() < ENOUGH_ACKED && Date.now() - started < 60_000) await sleep(50);
    stop = true; // no loop sends another request; the ones already sent are in flight
    await first.kill();
    await Promise.all([...loops, ...reads]);

    const all = [...[...owned.values()].flat(), ...hot, ...created.values()];
    const acked = all.filter((a) => a.outcome === "acked").length;
    const lost = all.filter((a) => a.outcome === "lost").length;
    t.diagnostic(`${all.length} writes sent, ${acked} acknowledged, ${lost} unanswered at the kill`);
    assert.deepEqual(unexpected, [], "writes before the kill got only the answers expected");
    assert.ok(acked >= ENOUGH_ACKED, `enough writes were acknowledged before the kill to prove something (${acked})`);
    assert.ok(all.every((a) => a.outcome !== "pending"), "every loop ended");

    const second = await startServer(t, target);
    assert.equal(second.token, null, "a restart on an initialised store prints no token");
    const after = client(second.url, token);

    const problems: string[] = [];
    for (const [name, values] of owned) {
      const lastAcked = values.findLastIndex((a) => a.outcome === "acked");
      const read = await after("GET", secretsPath(WS, name));
      if (read.status === 404) {
        if (lastAcked >= 0) problems.push(`${name}: gone, but value ${lastAcked} was acknowledged`);
        continue;
      }
      if (read.status !== 200) {
        problems.push(`${name}: GET -> ${read.status} ${JSON.stringify(read.body)}`);
        continue;
      }
      const index = values.findIndex((a) => a.value === read.body.data.n);
      if (index < 0) problems.push(`${name}: holds ${JSON.stringify(read.body.data)}, which was never sent`);
      else if (index < lastAcked) problems.push(`${name}: holds value ${index}, older than acknowledged value ${lastAcked}`);
      else if (index > lastAcked && values[index]!.outcome !== "lost") {
        problems.push(`${name}: holds value ${index}, which was ${values[index]!.outcome} (status ${values[index]!.status})`);
      }
    }

    for (const [name, attempt] of created) {
      const read = await after("GET", secretsPath(WS, name));
      if (attempt.outcome === "acked") {
        if (read.status !== 200) problems.push(`${name}: created (acknowledged) but GET -> ${read.status}`);
        else if (read.body.data.n !== attempt.value) problems.push(`${name}: holds ${JSON.stringify(read.body.data)}`);
      } else if (attempt.outcome === "refused" && read.status !== 404) {
        problems.push(`${name}: its create was refused (${attempt.status}) but GET -> ${read.status}`);
      }
    }

    if (hot.length > 0) {
      const read = await after("GET", secretsPath(WS, HOT));
      const ackedHot = hot.filter((a) => a.outcome === "acked");
      if (read.status !== 200) {
        if (ackedHot.length > 0) problems.push(`${HOT}: GET -> ${read.status}, but ${ackedHot.length} writes were acknowledged`);
      } else {
        const final = hot.find((a) => a.value === read.body.data.n);
        if (!final) problems.push(`${HOT}: holds ${JSON.stringify(read.body.data)}, which was never sent`);
        else if (final.outcome === "refused") problems.push(`${HOT}: holds a write the server refused (${final.status})`);
        else {
          // The final value must not have been acknowledged before some other acknowledged write was even sent.
          const overtaken = ackedHot.filter((a) => a !== final && a.seq > final.ackSeq);
          if (overtaken.length) problems.push(`${HOT}: holds ${final.value}, but ${overtaken[0]!.value} was sent after it was acknowledged and acknowledged too`);
        }
      }
    }

    assert.deepEqual(problems, [], "every acknowledged write survived the kill");

    const exported = await after("GET", "/api/v1/audit/export");
    assert.equal(exported.status, 200);
    const logged = new Set(String(exported.body).split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { requestId: string }).requestId));
    const missing = [...answered].filter((id) => !logged.has(id));
    t.diagnostic(`${answered.size} requests answered before the kill`);
    assert.deepEqual(missing, [], "every answered request's audit event survived the kill");
    assert.equal((await after("GET", "/api/v1/audit/verify")).body.ok, true, "and the chain is whole");
  });
}

// ---------------------------------------------------- 2. check-and-set loses nothing

const CAS_WORKERS = 16;
const CAS_INCREMENTS = 10;

/**
 * CAS_WORKERS workers each add 1 to `counter` CAS_INCREMENTS times with
 * read-then-check-and-set, retrying on VERSION_CONFLICT. With several nodes,
 * every attempt reads on one node and writes on the other, alternating.
 */
async function casIncrements(t: TestContext, nodes: Api[]): Promise<void> {
  const created = await nodes[0]!("POST", secretsPath(WS), { name: "counter", data: { n: "0" } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.version, 1);

  const deadline = Date.now() + 90_000;
  const wonVersions: number[] = [];
  const failures: string[] = [];
  let attempts = 0;
  let conflicts = 0;
  await Promise.all(
    Array.from({ length: CAS_WORKERS }, async (_, worker) => {
      let attempt = 0;
      for (let done = 0; done < CAS_INCREMENTS; ) {
        if (Date.now() > deadline || attempt > 2000 || failures.length > 0) {
          failures.push(`worker ${worker} gave up after ${attempt} attempts with ${done} increments`);
          return;
        }
        const reader = nodes[(worker + attempt) % nodes.length]!;
        const writer = nodes[(worker + attempt + 1) % nodes.length]!;
        attempt++;
        attempts++;
        const read = await reader("GET", secretsPath(WS, "counter"));
        if (read.status !== 200) {
          failures.push(`GET counter -> ${read.status} ${JSON.stringify(read.body)}`);
          return;
        }
        const n = Number(read.body.data.n);
        const write = await writer("PUT", secretsPath(WS, "counter"), { data: { n: String(n + 1) }, cas: read.body.version });
        if (write.status === 200) {
          wonVersions.push(write.body.version);
          if (write.body.version !== read.body.version + 1) failures.push(`CAS from version ${read.body.version} wrote version ${write.body.version}`);
          done++;
        } else if (write.status === 409 && write.body?.error?.code === "VERSION_CONFLICT") {
          conflicts++;
        } else {
          failures.push(`PUT counter cas=${read.body.version} -> ${write.status} ${JSON.stringify(write.body)}`);
          return;
        }
      }
    }),
  );
  t.diagnostic(`${attempts} check-and-set attempts, ${conflicts} conflicts`);
  assert.deepEqual(failures, []);

  const total = CAS_WORKERS * CAS_INCREMENTS;
  assert.deepEqual(
    wonVersions.toSorted((a, b) => a - b),
    Array.from({ length: total }, (_, i) => i + 2),
    "each successful check-and-set wrote its own version",
  );
  // Every node must converge on the last write (another node's cache catches up through the change feed).
  for (const [index, node] of nodes.entries()) {
    let last: Reply | undefined;
    await waitFor(
      `node ${index} to show n=${total} at version ${total + 1}`,
      5000,
      async () => {
        last = await node("GET", secretsPath(WS, "counter"));
        return last.status === 200 && last.body.data.n === String(total) && last.body.version === total + 1 ? true : undefined;
      },
      () => ({ status: last?.status, version: last?.body?.version, data: last?.body?.data }),
    );
  }
}

for (const store of STORES) {
  test(`parallel check-and-set updates lose no update (${store.kind})`, { timeout: TEST_TIMEOUT }, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const server = await startServer(t, target);
    await casIncrements(t, [client(server.url, server.token)]);
  });
}

test("parallel check-and-set updates through two nodes sharing one database lose no update (postgres)", { timeout: TEST_TIMEOUT }, async (t) => {
  const postgres = STORES.find((s) => s.kind === "postgres")!;
  const target = await postgres.open(t);
  if (!target) return;
  const env = { COFFER_ROOT_KEY: randomRootKey() };
  const a = await startServer(t, target, env);
  assert.ok(a.token);
  const b = await startServer(t, { ...target, dataDir: tempDir() }, env);
  assert.equal(b.token, null, "the second node finds the store initialised");
  await casIncrements(t, [client(a.url, a.token), client(b.url, a.token)]);
});

// --------------------------------------------- 3. key rotation under read load

const ROTATION_SECRETS = 300;
const EXTRA_VERSIONS = 3; // on every 25th secret
const READ_LOOPS = 8;

const rotationName = (i: number) => `rotation/s-${String(i).padStart(3, "0")}`;
const rotationValue = (i: number, version: number) => ({ value: `s${i}-v${version}`, index: String(i) });
const rotationVersions = (i: number) => (i % 25 === 0 ? 1 + EXTRA_VERSIONS : 1);

for (const store of STORES) {
  test(`a data key rotation re-wraps every version while reads keep working (${store.kind})`, { timeout: TEST_TIMEOUT }, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const server = await startServer(t, target);
    const token = server.token!;
    const api = client(server.url, token);

    const indexes = Array.from({ length: ROTATION_SECRETS }, (_, i) => i);
    await inParallel(indexes, 8, async (i) => {
      const created = await api("POST", secretsPath(WS), { name: rotationName(i), data: rotationValue(i, 1) });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      for (let version = 2; version <= rotationVersions(i); version++) {
        const updated = await api("PUT", secretsPath(WS, rotationName(i)), { data: rotationValue(i, version) });
        assert.equal(updated.status, 200, JSON.stringify(updated.body));
      }
    });
    const totalVersions = indexes.reduce((sum, i) => sum + rotationVersions(i), 0);

    const before = await api<KeyStatus>("GET", "/api/v1/sys/keys");
    assert.equal(before.status, 200);
    assert.equal(before.body.keyVersion, 1);
    assert.deepEqual(before.body.keys.map((k) => [k.version, k.secretVersions]), [[1, totalVersions]]);

    // Readers: current values (cached after the first read) and older versions (read and decrypted every time).
    let stop = false;
    let reads = 0;
    const failed: string[] = [];
    const readers = Array.from({ length: READ_LOOPS }, async () => {
      const deadline = Date.now() + 120_000;
      while (!stop && Date.now() < deadline && reads < 200_000) {
        const i = Math.floor(Math.random() * ROTATION_SECRETS);
        const versions = rotationVersions(i);
        const version = versions > 1 && Math.random() < 0.7 ? 1 + Math.floor(Math.random() * versions) : undefined;
        const path = version === undefined ? secretsPath(WS, rotationName(i)) : `${secretsPath(WS, rotationName(i))}/versions/${version}`;
        const expected = rotationValue(i, version ?? versions);
        reads++;
        try {
          const read = await api("GET", path);
          if (read.status !== 200) failed.push(`GET ${path} -> ${read.status} ${JSON.stringify(read.body)}`);
          else if (JSON.stringify(read.body.data) !== JSON.stringify(expected)) failed.push(`GET ${path} -> ${JSON.stringify(read.body.data)}`);
        } catch (error) {
          failed.push(`GET ${path} failed: ${(error as Error).message}`);
        }
      }
    });
    const stopReaders = async () => {
      stop = true;
      await Promise.all(readers);
    };
    t.after(stopReaders);

    await sleep(300);
    const readsBefore = reads;
    const started = Date.now();
    const rotated = await api<KeyStatus>("POST", "/api/v1/sys/keys/rotate");
    assert.equal(rotated.status, 202, JSON.stringify(rotated.body));
    assert.equal(rotated.body.keyVersion, 2);
    const done = await waitForRewrap(api, 2);
    const readsDuring = reads - readsBefore;
    t.diagnostic(`re-wrap of ${done.rewrap.done}/${done.rewrap.total} versions took ${Date.now() - started} ms; ${readsDuring} reads meanwhile`);
    assert.equal(done.rewrap.done, totalVersions);
    assert.equal(done.keyVersion, 2);
    assert.deepEqual(done.keys.map((k) => [k.version, k.secretVersions]), [[1, 0], [2, totalVersions]]);

    let newest = 2;
    if (store.kind === "sqlite") {
      // The operator's way, once (on the store every machine has): the CLI rotates again and follows
      // the re-wrap to the end, still under read load.
      const cli = await runCli(["operator", "rotate-key", "--addr", server.url], { COFFER_TOKEN: token });
      assert.equal(cli.code, 0, `coffer operator rotate-key exited ${cli.code}:\n${cli.stdout}\n${cli.stderr}`);
      newest = 3;
      const lines = cli.stdout.trimEnd().split("\n");
      assert.equal(lines[0], "Data key rotated: new writes use key version 3.");
      const progress = lines.filter((line) => line.startsWith("Re-wrapping secret versions under key 3: "));
      assert.ok(progress.length >= 1, cli.stdout);
      assert.match(progress.at(-1)!, new RegExp(`: ${totalVersions}/${totalVersions} \\(done\\)$`), cli.stdout);
      const listing = lines.slice(lines.indexOf("Key version in use: 3"));
      assert.equal(listing.length, 4, `the output ends with the key listing:\n${cli.stdout}`);
      assert.match(listing[1]!, /^ {2}key {3}1 {2}created \S+ {2}encrypts 0 secret version\(s\)$/);
      assert.match(listing[2]!, /^ {2}key {3}2 {2}created \S+ {2}encrypts 0 secret version\(s\)$/);
      assert.match(listing[3]!, new RegExp(`^  key   3  created \\S+  encrypts ${totalVersions} secret version\\(s\\)$`));
    }

    await sleep(200);
    await stopReaders();
    t.diagnostic(`${reads} reads in all`);
    assert.deepEqual(failed.slice(0, 10), [], `${failed.length} of ${reads} reads failed`);
    assert.ok(readsDuring > 0, "reads ran while the re-wrap did");

    const after = await api<KeyStatus>("GET", "/api/v1/sys/keys");
    assert.equal(after.body.keyVersion, newest);
    for (const key of after.body.keys) {
      assert.equal(key.secretVersions, key.version === newest ? totalVersions : 0, `key ${key.version}: ${JSON.stringify(after.body.keys)}`);
    }

    await server.stop();
    assert.deepEqual([...(await storedKeyVersions(target))], [[newest, totalVersions]], "every stored version is under the newest key");

    // And every value still opens after a restart (the keyring reloads all versions).
    const again = await startServer(t, target);
    const reread = client(again.url, token);
    await inParallel(indexes, 8, async (i) => {
      for (let version = 1; version <= rotationVersions(i); version++) {
        const read = await reread("GET", `${secretsPath(WS, rotationName(i))}/versions/${version}`);
        assert.equal(read.status, 200, JSON.stringify(read.body));
        assert.deepEqual(read.body.data, rotationValue(i, version));
      }
    });
  });
}

// Two properties the rotation above relies on, each in its own test so a failure names its cause.

/** Creates `count` one-version secrets named `${prefix}-NNN`, 8 at a time. */
async function createSecrets(api: Api, prefix: string, count: number): Promise<void> {
  await inParallel(Array.from({ length: count }, (_, i) => i), 8, async (i) => {
    const created = await api("POST", secretsPath(WS), { name: `${prefix}-${String(i).padStart(4, "0")}`, data: { value: `${prefix}-${i}` } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });
}

for (const store of STORES) {
  test(`a rotation requested while a re-wrap is running still ends with every version under the newest key (${store.kind})`, { timeout: TEST_TIMEOUT }, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const server = await startServer(t, target);
    const api = client(server.url, server.token);
    const COUNT = 400;
    await createSecrets(api, "backtoback/s", COUNT);

    // An operator who runs rotate-key twice in a row: the second arrives while the first re-wrap runs.
    const firstRotation = await api<KeyStatus>("POST", "/api/v1/sys/keys/rotate");
    const secondRotation = await api<KeyStatus>("POST", "/api/v1/sys/keys/rotate");
    assert.equal(firstRotation.status, 202);
    assert.equal(secondRotation.status, 202);
    assert.equal(secondRotation.body.keyVersion, 3);
    t.diagnostic(`second rotation answered while the re-wrap was ${JSON.stringify(secondRotation.body.rewrap)}`);

    let last: KeyStatus | undefined;
    await waitFor(
      "every secret version to be re-wrapped under key 3",
      8000,
      async () => {
        last = (await api<KeyStatus>("GET", "/api/v1/sys/keys")).body;
        const running = last.rewrap.state === "running";
        const settled = last.keys.every((key) => key.secretVersions === (key.version === 3 ? COUNT : 0));
        return settled && !running ? true : undefined;
      },
      () => last,
    );
  });

  test(`each rotation answers with the re-wrap it started, not an earlier one (${store.kind})`, { timeout: TEST_TIMEOUT }, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const server = await startServer(t, target);
    const api = client(server.url, server.token);
    await createSecrets(api, "answers/s", 100);
    // `coffer operator rotate-key` trusts the 202 answer: a "done" there ends its wait at once.
    const answers: string[] = [];
    for (let keyVersion = 2; keyVersion <= 17; keyVersion++) {
      const rotated = await api<KeyStatus>("POST", "/api/v1/sys/keys/rotate");
      assert.equal(rotated.status, 202);
      assert.equal(rotated.body.keyVersion, keyVersion);
      const { state, targetKeyVersion } = rotated.body.rewrap;
      if (targetKeyVersion !== keyVersion) answers.push(`rotation to key ${keyVersion} answered with the re-wrap onto key ${targetKeyVersion} (${state})`);
      await waitForRewrap(api, keyVersion);
    }
    assert.deepEqual(answers, [], "every 202 describes the re-wrap onto the key it added");
  });
}

// ----------------------------------------------------- 4. restart keeps everything

for (const store of STORES) {
  test(`a restart keeps every secret and every version (${store.kind})`, { timeout: TEST_TIMEOUT }, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const server = await startServer(t, target);
    const token = server.token!;
    const api = client(server.url, token);

    // name -> scope and the data of versions 1..n
    const secrets: { name: string; scope: "shared" | "personal"; versions: Record<string, string>[] }[] = [
      { name: "restart/plain", scope: "shared", versions: [1, 2, 3, 4, 5].map((v) => ({ value: `plain-v${v}` })) },
      {
        name: "restart/team/db/config",
        scope: "shared",
        versions: [1, 2, 3].map((v) => ({ host: `db${v}.internal`, port: "5432", username: "app", password: `pw-${v}-${"x".repeat(v * 100)}` })),
      },
      { name: "restart/unicode", scope: "shared", versions: [{ value: "grüße, 世界 🔐" }, { value: "line1\nline2\t\"quoted\"" }] },
      { name: "restart/mine", scope: "personal", versions: [{ token: "p-1" }, { token: "p-2" }] },
    ];
    const pathOf = (name: string, scope: string, suffix = "") => `${secretsPath(WS, name)}${suffix}${scope === "personal" ? "?scope=personal" : ""}`;
    for (const secret of secrets) {
      for (const [index, data] of secret.versions.entries()) {
        const reply = await api("PUT", pathOf(secret.name, secret.scope), { data });
        assert.equal(reply.status, index === 0 ? 201 : 200, JSON.stringify(reply.body));
        assert.equal(reply.body.version, index + 1);
      }
    }
    const gone = await api("POST", secretsPath(WS), { name: "restart/deleted", data: { value: "bye" } });
    assert.equal(gone.status, 201);
    assert.equal((await api("DELETE", secretsPath(WS, "restart/deleted"))).status, 204);

    await server.stop();
    assert.equal(server.process.exitCode, 0, `SIGTERM stops the server cleanly:\n${server.output()}`);

    // Two restarts: the second proves the first changed nothing on the way up.
    for (const round of [1, 2]) {
      const next = await startServer(t, target);
      assert.equal(next.token, null, "a restart prints no token");
      const after = client(next.url, token);
      for (const secret of secrets) {
        const current = await after("GET", pathOf(secret.name, secret.scope));
        assert.equal(current.status, 200, `round ${round} ${secret.name}: ${JSON.stringify(current.body)}`);
        assert.equal(current.body.version, secret.versions.length);
        assert.equal(current.body.scope, secret.scope);
        assert.deepEqual(current.body.data, secret.versions.at(-1));
        const listed = await after("GET", pathOf(secret.name, secret.scope, "/versions"));
        assert.deepEqual(
          listed.body.versions.map((v: { version: number }) => v.version),
          secret.versions.map((_, i) => secret.versions.length - i),
        );
        for (const [index, data] of secret.versions.entries()) {
          const read = await after("GET", pathOf(secret.name, secret.scope, `/versions/${index + 1}`));
          assert.equal(read.status, 200, JSON.stringify(read.body));
          assert.deepEqual(read.body.data, data, `round ${round} ${secret.name} v${index + 1}`);
        }
      }
      assert.equal((await after("GET", secretsPath(WS, "restart/deleted"))).status, 404, "a soft-deleted secret stays deleted");
      const deleted = await after("GET", `${secretsPath(WS)}?deleted=only`);
      assert.deepEqual(deleted.body.items.map((s: { name: string }) => s.name), ["restart/deleted"]);
      await next.stop();
      assert.equal(next.process.exitCode, 0);
    }
  });
}

// ------------------------------- 5. two nodes initialise one empty PostgreSQL at once

test("two nodes starting together on one empty PostgreSQL migrate and initialise it once (postgres)", { timeout: TEST_TIMEOUT }, async (t) => {
  const postgres = STORES.find((s) => s.kind === "postgres")!;
  const first = await postgres.open(t);
  if (!first) return;
  // A few rounds, each on a fresh empty database: a start-up race need not show on the first try.
  for (let round = 1; round <= 3; round++) {
    let databaseUrl: string = first.databaseUrl!;
    if (round > 1) {
      const database = await createTestDatabase();
      t.after(() => database.drop());
      databaseUrl = database.url;
    }
    const env = { COFFER_ROOT_KEY: randomRootKey() };
    // allSettled, not all: a node that fails must not leave its twin running past the test.
    const starts = await Promise.allSettled([0, 1].map(() => startServer(t, { kind: "postgres", dataDir: tempDir(), databaseUrl }, env)));
    const nodes: RunningServer[] = starts.flatMap((start) => (start.status === "fulfilled" ? [start.value] : []));
    const refused = starts.flatMap((start) => (start.status === "rejected" ? [(start.reason as Error).message] : []));
    if (refused.length) {
      await Promise.all(nodes.map((node) => node.kill()));
      assert.fail(`round ${round}: both nodes must start; ${refused.length} did not:\n${refused.join("\n----\n")}`);
    }
    const tokens = nodes.map((node) => node.token).filter((token): token is string => token !== null);
    assert.equal(tokens.length, 1, `round ${round}: exactly one node prints a bootstrap token:\n${nodes.map((n) => n.output()).join("\n----\n")}`);
    const token = tokens[0]!;
    const [a, b] = nodes.map((node) => client(node.url, token)) as [Api, Api];
    for (const api of [a, b]) {
      const workspaces = await api("GET", "/api/v1/workspaces");
      assert.equal(workspaces.status, 200, JSON.stringify(workspaces.body));
      assert.deepEqual(workspaces.body.workspaces.map((w: { name: string }) => w.name), [WS]);
      const keys = await api<KeyStatus>("GET", "/api/v1/sys/keys");
      assert.deepEqual(keys.body.keys.map((k) => k.version), [1], "one data key, created once");
    }
    // Both nodes use the same keyring: what one writes the other reads.
    assert.equal((await a("PUT", secretsPath(WS, "shared/one"), { data: { value: `from-a-${round}` } })).status, 201);
    assert.deepEqual((await b("GET", secretsPath(WS, "shared/one"))).body.data, { value: `from-a-${round}` });
    assert.equal((await b("PUT", secretsPath(WS, "shared/two"), { data: { value: `from-b-${round}` } })).status, 201);
    assert.deepEqual((await a("GET", secretsPath(WS, "shared/two"))).body.data, { value: `from-b-${round}` });

    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const migrations = await db.query<{ name: string }>("select name from coffer_migrations order by name");
      assert.deepEqual(migrations.rows.map((r) => r.name), KNOWN_MIGRATIONS, "each migration applied once");
      const users = await db.query<{ n: string }>("select count(*) as n from users");
      assert.equal(Number(users.rows[0]!.n), 1, "one admin user");
      const tokensStored = await db.query<{ n: string }>("select count(*) as n from tokens");
      assert.equal(Number(tokensStored.rows[0]!.n), 1, "one bootstrap token");
    } finally {
      await db.end();
    }
    await Promise.all(nodes.map((node) => node.stop()));
  }
});
