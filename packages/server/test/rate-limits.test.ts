/**
 * Rate limits: per token and per workspace, reads and writes apart, set per
 * workspace; on one node in memory (a frozen clock makes it exact), and
 * across two server processes on one PostgreSQL sharing Redis; what happens
 * while Redis is away; login throttling per (username, address), shared too.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Coffer as Sdk } from "@coffer/sdk";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import type { CofferError } from "../src/core/errors.ts";
import { LoginThrottle } from "../src/identity/login-throttle.ts";
import { MemoryLimitStore } from "../src/limits/memory-limit-store.ts";
import { RedisLimitStore } from "../src/limits/redis-limit-store.ts";
import { client, secretsPath } from "./support/http.ts";
import { createTestDatabase, postgresUnavailable } from "./support/postgres.ts";
import { countKeys, REDIS_URL, redisPrefix, redisUnavailable } from "./support/redis.ts";
import { startServer } from "./support/server.ts";
import { STORES, tempDir, type StoreKind } from "./support/stores.ts";

const DEFAULT_LIMITS = "reads=20,writes=5";

interface Reply {
  status: number;
  body: any;
  headers: Record<string, unknown>;
}
type Api = (method: string, url: string, body?: unknown, remoteAddress?: string) => Promise<Reply>;

/** One node in-process with the default limits and a clock that moves only when told. */
async function setup(t: TestContext, store: StoreKind) {
  const target = await store.open(t);
  if (!target) return null;
  let now = Date.now();
  const coffer = await openCoffer({ dataDir: target.dataDir, databaseUrl: target.databaseUrl, clock: () => now });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const as =
    (token: string | null): Api =>
    async (method, url, body, remoteAddress) => {
      const reply = await app.inject({
        method: method as "GET",
        url,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(remoteAddress ? { remoteAddress } : {}),
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return { status: reply.statusCode, body: reply.body ? reply.json() : undefined, headers: reply.headers };
    };
  const admin = as(coffer.bootstrapToken!);
  const newToken = async (): Promise<Api> => {
    const made = await admin("POST", "/api/v1/auth/tokens", { name: `t-${randomBytes(3).toString("hex")}` });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return as(made.body.token);
  };
  return { coffer, admin, anonymous: as(null), newToken, advance: (ms: number) => (now += ms) };
}

function assertLimited(reply: Reply, what: string): void {
  assert.equal(reply.status, 429, `${what}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body.error.code, "RATE_LIMITED", what);
  assert.match(reply.body.error.requestId, /^req_/);
  assert.equal(reply.headers["retry-after"], "1", `${what}: Retry-After in whole seconds`);
}

/** Sends `count` calls one after another; returns how many got 2xx. */
async function okCount(count: number, call: () => Promise<Reply>): Promise<number> {
  let ok = 0;
  for (let i = 0; i < count; i++) if ((await call()).status < 300) ok++;
  return ok;
}

const ws = "/api/v1/workspaces/default";

for (const store of STORES) {
  test(`one node: each token has 20 reads/s and 5 writes/s apart, then 429 RATE_LIMITED with Retry-After; refused writes change nothing (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    const { admin } = env;
    assert.equal((await admin("POST", secretsPath("default"), { name: "app/key", data: { v: "1" } })).status, 201);

    assert.equal(await okCount(20, () => admin("GET", secretsPath("default", "app/key"))), 20, "a full bucket: 20 reads at once");
    assertLimited(await admin("GET", secretsPath("default", "app/key")), "the 21st read");
    // Everything that reveals secrets or their metadata draws on the read budget.
    assertLimited(await admin("GET", `${secretsPath("default")}?prefix=app%2F`), "a list");
    assertLimited(await admin("POST", `${ws}/secret-reads`, { names: ["app/key"] }), "a batch read");
    assertLimited(await admin("GET", `${secretsPath("default", "app/key")}/versions`), "the version history");
    assertLimited(await admin("GET", `${secretsPath("default", "app/key")}/grants`), "the grants list");
    assert.equal((await admin("GET", ws)).status, 200, "workspace settings are not secrets: not limited");

    // Writes have their own budget: 1 create so far, 4 more, then 429.
    for (let i = 2; i <= 5; i++) assert.equal((await admin("PATCH", secretsPath("default", "app/key"), { data: { v: String(i) } })).status, 200, `write ${i}`);
    assertLimited(await admin("PUT", secretsPath("default", "app/key"), { data: { v: "refused" } }), "the 6th write");
    assertLimited(await admin("PUT", `${secretsPath("default", "app/key")}/grants/group:everyone`, { level: "read" }), "a grant change");
    assertLimited(await admin("POST", `${secretsPath("default", "app/key")}/rollback`, { version: 1 }), "a rollback");
    assertLimited(await admin("DELETE", secretsPath("default", "app/key")), "a delete");

    // Another token of the same user has budgets of its own, and sees that the refused writes changed nothing.
    const other = await env.newToken();
    const read = await other("GET", secretsPath("default", "app/key"));
    assert.equal(read.status, 200);
    assert.deepEqual([read.body.version, read.body.data], [5, { v: "5" }]);
    assert.deepEqual((await other("GET", `${secretsPath("default", "app/key")}/grants`)).body.grants, []);

    // The bucket refills continuously: 50 ms is one more read at 20/s, 200 ms one more write at 5/s.
    env.advance(50);
    assert.equal((await admin("GET", secretsPath("default", "app/key"))).status, 200);
    assertLimited(await admin("GET", secretsPath("default", "app/key")), "the read after the refilled one");
    env.advance(200);
    assert.equal((await admin("PATCH", secretsPath("default", "app/key"), { label: "refilled" })).status, 200);
    assertLimited(await admin("PATCH", secretsPath("default", "app/key"), { label: "again" }), "the write after the refilled one");
  });

  test(`one node: a workspace's own limits apply at once, are validated, and its ceiling (10×) caps all its tokens together (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    const { admin } = env;
    assert.equal((await admin("POST", secretsPath("default"), { name: "k", data: { v: "1" } })).status, 201);
    assert.deepEqual((await admin("GET", ws)).body.rateLimits, { readsPerSecond: 20, writesPerSecond: 5 }, "the defaults");

    for (const rateLimits of [{ readsPerSecond: 0 }, { readsPerSecond: 1_000_001 }, { writesPerSecond: 2.5 }, { readsPerSecond: "3" }, { reads: 3 }, 7]) {
      const reply = await admin("PATCH", ws, { rateLimits });
      assert.equal(reply.status, 400, `${JSON.stringify(rateLimits)}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.error.code, "INVALID_REQUEST");
    }
    assert.deepEqual((await admin("GET", ws)).body.rateLimits, { readsPerSecond: 20, writesPerSecond: 5 }, "bad input changed nothing");

    const changed = await admin("PATCH", ws, { rateLimits: { readsPerSecond: 2 } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual(changed.body.rateLimits, { readsPerSecond: 2, writesPerSecond: 5 });
    assert.equal(changed.body.maxVersions, 10, "other settings stay");
    assert.deepEqual((await admin("GET", "/api/v1/workspaces")).body.workspaces[0].rateLimits, { readsPerSecond: 2, writesPerSecond: 5 });
    assert.equal(await okCount(3, () => admin("GET", secretsPath("default", "k"))), 2, "2 reads/s from the next request on");
    const refused = await admin("GET", secretsPath("default", "k"));
    assertLimited(refused, "past the new limit");
    assert.match(refused.body.error.message, /2 reads\/s per token and 20\/s in all/);

    // Ceiling: 20 reads/s across tokens. Eleven fresh tokens with 2 each would make 22.
    env.advance(1000);
    const tokens = await Promise.all(Array.from({ length: 11 }, () => env.newToken()));
    let ok = 0;
    for (const token of tokens) ok += await okCount(2, () => token("GET", secretsPath("default", "k")));
    assert.equal(ok, 20, "the workspace's ceiling, not 11 × 2");
    assertLimited(await tokens[10]!("GET", secretsPath("default", "k")), "a token with budget left in a workspace at its ceiling");
    assert.equal((await tokens[10]!("PATCH", secretsPath("default", "k"), { label: "writes" })).status, 200, "writes have their own ceiling");

    // null follows the server's defaults again.
    assert.deepEqual((await admin("PATCH", ws, { rateLimits: null })).body.rateLimits, { readsPerSecond: 20, writesPerSecond: 5 });
    env.advance(1000);
    assert.equal(await okCount(21, () => admin("GET", secretsPath("default", "k"))), 20);

    // A new workspace may be created with its own limits.
    const made = await admin("POST", "/api/v1/workspaces", { name: "busy", rateLimits: { readsPerSecond: 500, writesPerSecond: 50 } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.deepEqual(made.body.rateLimits, { readsPerSecond: 500, writesPerSecond: 50 });
  });
}

// Failure counters live in the rate limits' store, not the SQL store: once is enough.
test("one node: login throttling is per (username, address): a guesser elsewhere does not lock the user out", async (t) => {
  const env = await setup(t, STORES[0]!);
  if (!env) return;
  const { admin, anonymous } = env;
  assert.equal((await admin("POST", "/api/v1/users", { username: "vic", password: "a long passphrase" })).status, 201);
  const login = (username: string, password: string, from: string) => anonymous("POST", "/api/v1/auth/login", { username, password }, from);

  for (let i = 0; i < 5; i++) assert.equal((await login("vic", `guess-${i}`, "192.0.2.1")).status, 401);
  const limited = await login("vic", "a long passphrase", "192.0.2.1");
  assertLimited(limited, "vic from the guessing address");
  assert.match(limited.body.error.message, /too many failed logins/);
  assert.equal((await login("vic", "a long passphrase", "198.51.100.7")).status, 200, "vic from elsewhere is not locked out");

});

test("login throttling: delays double per (username, address), 20 failures close an address to every username, and an hour forgets", async () => {
  let now = Date.now();
  const throttle = new LoginThrottle(new MemoryLimitStore(() => now));
  /** An attempt's refusal, or undefined when it was let through (and counted). */
  const refusal = async (username: string, address: string) => {
    try {
      await throttle.attempt(username, address);
      return undefined;
    } catch (error) {
      return error as CofferError;
    }
  };
  for (let i = 1; i <= 5; i++) assert.equal(await throttle.attempt("vic", "192.0.2.1"), i);
  assert.equal((await refusal("vic", "192.0.2.1"))?.headers["retry-after"], "1");
  assert.equal((await refusal("vic", "192.0.2.1"))?.headers["retry-after"], "1", "a refused attempt is not counted: the wait does not grow");
  now += 1000;
  assert.equal(await refusal("vic", "192.0.2.1"), undefined, "free again after Retry-After (and that attempt counts)");
  assert.equal((await refusal("vic", "192.0.2.1"))?.headers["retry-after"], "2", "each further attempt doubles the delay");
  assert.equal(await refusal("vic", "198.51.100.7"), undefined, "only from that address");

  for (let i = 0; i < 20; i++) await throttle.attempt(`user-${i}`, "192.0.2.99");
  const sprayed = await refusal("someone-else", "192.0.2.99");
  assert.equal(sprayed?.code, "RATE_LIMITED", "an address that sprayed 20 usernames is closed to all of them");
  assert.equal(await refusal("someone-else", "198.51.100.7"), undefined);

  await throttle.succeed("vic", "192.0.2.1");
  assert.equal(await refusal("vic", "192.0.2.1"), undefined, "success clears (username, address)");
  now += 60 * 60_000;
  assert.equal(await refusal("someone-else", "192.0.2.99"), undefined, "attempts are forgotten an hour after the last");
});

test("the SDK waits out a 429 for as long as Retry-After says and then succeeds", async (t) => {
  const server = await startServer(t, { kind: "sqlite", dataDir: tempDir(), databaseUrl: undefined }, { COFFER_RATE_LIMITS: "reads=20,writes=1" });
  const sdk = new Sdk({ addr: server.url, token: server.token!, workspace: "default" });
  const started = performance.now();
  for (const name of ["a", "b", "c"]) await sdk.secrets.create(name, { v: name });
  assert.ok(performance.now() - started >= 1500, "two of the three writes waited for a refill");
  assert.deepEqual((await sdk.secrets.list()).map((secret) => secret.name), ["a", "b", "c"]);
  const raw = client(server.url, server.token);
  const replies = await Promise.all(["d", "e", "f"].map((name) => raw("POST", secretsPath("default"), { name, data: { v: name } })));
  const limited = replies.find((reply) => reply.status === 429);
  assert.ok(limited, "without the SDK's retries, writes at once beyond 1/s are refused");
  assert.equal(limited.headers.get("retry-after"), "1");
  await server.stop();
});

// ---------------------------------------------------------------- Redis

async function needRedis(t: TestContext): Promise<boolean> {
  const reason = await redisUnavailable();
  if (reason) t.skip(reason);
  return reason === null;
}

test("two server processes on one PostgreSQL sharing Redis enforce one budget, see each other's setting changes, and share login throttling", async (t) => {
  if (!(await needRedis(t))) return;
  const pgReason = await postgresUnavailable();
  if (pgReason) return t.skip(pgReason);
  const database = await createTestDatabase();
  const prefix = redisPrefix(t);
  const target = { kind: "postgres" as const, dataDir: tempDir(), databaseUrl: database.url };
  const env = { COFFER_ROOT_KEY: randomBytes(32).toString("base64"), COFFER_REDIS_URL: REDIS_URL, COFFER_REDIS_PREFIX: prefix, COFFER_RATE_LIMITS: DEFAULT_LIMITS };
  const a = await startServer(t, target, env);
  const b = await startServer(t, { ...target, dataDir: tempDir() }, env);
  // After the servers' own after-hooks, which run first: dropping the database kills their connections.
  t.after(() => database.drop());
  assert.match(a.output(), /rate limits are shared through redis/);
  const onA = client(a.url, a.token);
  const onB = client(b.url, a.token);

  assert.equal((await onA("POST", secretsPath("default"), { name: "shared", data: { v: "1" } })).status, 201);
  assert.equal((await onB("GET", secretsPath("default", "shared"))).status, 200, "node B has the workspace cached");
  assert.equal((await onA("PATCH", ws, { rateLimits: { readsPerSecond: 4 } })).status, 200);
  const deadline = Date.now() + 5000;
  while ((await onB("GET", ws)).body.rateLimits.readsPerSecond !== 4) {
    assert.ok(Date.now() < deadline, "node B never saw the new limit");
    await sleep(20);
  }
  await sleep(1100); // both buckets full again

  // 12 reads at once, half through each node: 4 in all plus what refills meanwhile (4/s), where separate nodes would allow twice that.
  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? onA : onB)("GET", secretsPath("default", "shared"))));
  const refilled = Math.ceil((4 * (performance.now() - started)) / 1000);
  const ok = replies.filter((reply) => reply.status === 200).length;
  assert.ok(ok >= 4 && ok <= 4 + refilled, `one budget of 4/s across both nodes, got ${ok} reads through (${refilled} refilled meanwhile)`);
  for (const reply of replies.filter((r) => r.status !== 200)) {
    assert.equal(reply.status, 429);
    assert.equal(reply.headers.get("retry-after"), "1");
  }

  // Login failures counted on A throttle the same (username, address) on B.
  assert.equal((await onA("POST", "/api/v1/users", { username: "wes", password: "a long passphrase" })).status, 201);
  const anonA = client(a.url, null);
  const anonB = client(b.url, null);
  for (let i = 0; i < 5; i++) assert.equal((await (i % 2 ? anonA : anonB)("POST", "/api/v1/auth/login", { username: "wes", password: `guess-${i}` })).status, 401);
  assert.equal((await anonB("POST", "/api/v1/auth/login", { username: "wes", password: "a long passphrase" })).status, 429, "node B counts node A's failures");
  assert.equal((await anonA("POST", "/api/v1/auth/login", { username: "wes", password: "a long passphrase" })).status, 429);

  // A burst of parallel guesses through both nodes: each is counted before its password is checked, atomically,
  // so exactly the 5 free attempts reach the password check and the rest are refused.
  assert.equal((await onA("POST", "/api/v1/users", { username: "zed", password: "a long passphrase" })).status, 201);
  const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? anonA : anonB)("POST", "/api/v1/auth/login", { username: "zed", password: `guess-${i}` })));
  assert.deepEqual(
    [burst.filter((reply) => reply.status === 401).length, burst.filter((reply) => reply.status === 429).length],
    [5, 25],
    "5 guesses checked, 25 refused before their password was looked at",
  );

  // Alert thresholds count across the nodes as well: wes's five failures (two on A, three on B, so neither node
  // alone reached five) make one alert, and zed's burst through both nodes one, not one per node.
  const loginAlerts = async (username: string) =>
    ((await onA("GET", "/api/v1/alerts")).body.alerts as { type: string; details: { kind?: string; username?: string } }[]).filter(
      (alert) => alert.type === "auth.failures" && alert.details.kind === "login" && alert.details.username === username,
    ).length;
  const alertDeadline = Date.now() + 5000;
  while ((await loginAlerts("wes")) === 0 || (await loginAlerts("zed")) === 0) {
    assert.ok(Date.now() < alertDeadline, "the failed-login alerts were never raised");
    await sleep(50);
  }
  await sleep(500); // time for a second alert, if a node were to raise its own
  assert.deepEqual([await loginAlerts("wes"), await loginAlerts("zed")], [1, 1], "one alert per name across both nodes");

  // Idle buckets expire: nothing of the rate limits stays in Redis a second after the last request.
  await sleep(1200);
  const rateKeys = await countKeys(`${prefix}rate:`);
  assert.equal(rateKeys, 0, "idle buckets expire from Redis");
  await Promise.all([a.stop(), b.stop()]);
});

test("a server whose Redis is unreachable starts, says so loudly, and enforces the limits in memory (fail open to the node)", async (t) => {
  const closed = await unusedPort();
  const server = await startServer(t, { kind: "sqlite", dataDir: tempDir(), databaseUrl: undefined }, {
    COFFER_REDIS_URL: `redis://127.0.0.1:${closed}`,
    COFFER_RATE_LIMITS: DEFAULT_LIMITS,
  });
  assert.match(server.output(), /WARNING: rate limits: redis \(redis:\/\/127\.0\.0\.1:\d+\) is unavailable .*in memory \(fail open\)/);
  const api = client(server.url, server.token);
  assert.equal((await api("POST", secretsPath("default"), { name: "k", data: { v: "1" } })).status, 201);
  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: 30 }, () => api("GET", secretsPath("default", "k"))));
  const refilled = Math.ceil((20 * (performance.now() - started)) / 1000);
  const ok = replies.filter((reply) => reply.status === 200).length;
  assert.ok(ok >= 20 && ok <= 20 + refilled, `still 20 reads/s per token on this node, got ${ok} (${refilled} refilled meanwhile)`);
  assert.ok(replies.some((reply) => reply.status === 429));
  assert.equal(server.output().match(/WARNING: rate limits/g)?.length, 1, "one warning per outage, not one per request");
  await server.stop();
});

test("the Redis store shares a budget between nodes with leases, falls back to memory while Redis is away, and goes back once it answers", async (t) => {
  if (!(await needRedis(t))) return;
  const prefix = redisPrefix(t);
  const redisPort = Number(new URL(REDIS_URL).port || 6379);
  const proxy = await tcpProxy(new URL(REDIS_URL).hostname, redisPort);
  t.after(() => proxy.close());
  const logs: string[] = [];
  const open = (log: (line: string) => void) => RedisLimitStore.open({ url: `redis://127.0.0.1:${proxy.port}`, prefix, clock: Date.now, log });
  const nodeA = await open((line) => logs.push(line));
  const nodeB = await open(() => {});
  t.after(() => Promise.all([nodeA.close(), nodeB.close()]));

  // At 1000/s a lease is 20 requests: most takes answer without Redis, yet both nodes draw on one budget.
  const started = Date.now();
  let granted = 0;
  while (Date.now() - started < 200) {
    const wait = await (granted % 2 ? nodeA : nodeB).take("read", "ws_t", "tok_t", 1000, 10_000);
    if (wait === 0) granted++;
    else await sleep(1);
  }
  const elapsed = Date.now() - started;
  assert.ok(granted >= 1000, `the first second's budget is there, got ${granted}`);
  assert.ok(granted <= 1000 + elapsed + 2 * 20, `one budget for both nodes, got ${granted} in ${elapsed} ms`);

  // Low limits stay exact: 3/s across both nodes.
  const exactStart = performance.now();
  const exact = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? nodeA : nodeB).take("write", "ws_t", "tok_x", 3, 30)));
  const exactOk = exact.filter((wait) => wait === 0).length;
  assert.ok(exactOk >= 3 && exactOk <= 3 + Math.ceil((3 * (performance.now() - exactStart)) / 1000), `3/s across both nodes, got ${exactOk}`);
  assert.ok(exact.filter((wait) => wait > 0).every((wait) => wait <= 334));

  // Attempt counters: a burst of parallel attempts on both nodes lets exactly the free ones through.
  const backoff = { baseMs: 1000, maxMs: 60_000, windowMs: 60_000 };
  const attempts = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? nodeA : nodeB).attempt([{ key: "burst", free: 5 }], backoff)));
  assert.equal(attempts.filter((result) => result.waitMs === 0).length, 5, "exactly 5 of 40 parallel attempts pass");
  assert.deepEqual(attempts.flatMap((result) => result.counts).sort(), [1, 2, 3, 4, 5]);
  // Event counters (alert thresholds): one count across nodes, in a window from the first event.
  const counted = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? nodeA : nodeB).count("events", 60_000)));
  assert.deepEqual(counted.sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "each count is seen once: a threshold is crossed on exactly one node");

  // Redis goes away: the same token is limited by each node's memory, with one warning per node.
  proxy.pause();
  const during = await Promise.all(Array.from({ length: 4 }, () => nodeA.take("write", "ws_t", "tok_y", 3, 30)));
  assert.equal(during.filter((wait) => wait === 0).length, 3, "limits still hold in memory");
  assert.equal(logs.filter((line) => line.startsWith("WARNING")).length, 1, `one warning per outage: ${logs.join("\n")}`);
  assert.deepEqual(await nodeA.attempt([{ key: "k", free: 5 }], { baseMs: 1000, maxMs: 60_000, windowMs: 60_000 }), { waitMs: 0, counts: [1] }, "attempt counters fall back too");

  proxy.resume();
  const back = Date.now() + 5000;
  while (!logs.some((line) => line.endsWith("again"))) {
    assert.ok(Date.now() < back, `the store never went back to Redis: ${logs.join("\n")}`);
    await nodeA.take("read", "ws_t", "tok_z", 20, 200);
    await sleep(50);
  }
});

function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A TCP proxy to Redis that can drop every connection and refuse new ones, then accept them again. */
async function tcpProxy(host: string, port: number): Promise<{ port: number; pause(): void; resume(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let paused = false;
  const server: Server = createServer((socket) => {
    if (paused) return socket.destroy();
    const upstream = connect(port, host);
    for (const end of [socket, upstream]) {
      sockets.add(end);
      end.on("close", () => sockets.delete(end));
      end.on("error", () => {});
    }
    socket.pipe(upstream).pipe(socket);
    socket.on("close", () => upstream.destroy());
    upstream.on("close", () => socket.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as { port: number }).port,
    pause: () => {
      paused = true;
      for (const socket of sockets) socket.destroy();
    },
    resume: () => {
      paused = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
