/**
 * Three real `coffer server` processes on one PostgreSQL and one Redis,
 * behind a real HAProxy: what a team running several nodes relies on.
 * One cluster serves the subtests, in order, to keep the file fast.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import pg from "pg";
import { Coffer } from "@coffer/sdk";
import { clusterUnavailable, sleep, startCluster, waitFor, type Cluster } from "./support/cluster.ts";
import { startServer } from "./support/server.ts";
import { slowLink } from "./support/slow-link.ts";
import { tempDir } from "./support/stores.ts";

const WS = "/api/v1/workspaces/default";

interface Failure {
  at: number;
  what: string;
}

/**
 * Writers each own a secret and write it again and again; readers read a
 * random one and check the version is at least the last one acknowledged to
 * a writer before the read began. Half the clients go through HAProxy, half
 * through the SDK's own failover over the nodes' addresses.
 */
function startLoad(cluster: Cluster, options: { writers: number; readers: number; prefix: string }) {
  const acked = new Array<number>(options.writers).fill(0);
  const failures: Failure[] = [];
  const stale: string[] = [];
  let reads = 0;
  let writes = 0;
  let running = true;
  const direct = cluster.nodes.map((node) => node.url);
  const sdk = (i: number) =>
    new Coffer({ addr: i % 2 === 0 ? cluster.url : [...direct.slice(i % direct.length), ...direct.slice(0, i % direct.length)], token: cluster.adminToken, workspace: "default", maxRetries: 10 });
  const name = (i: number) => `${options.prefix}/w${i}`;
  const writer = async (i: number) => {
    const coffer = sdk(i);
    for (let n = 1; running; n++) {
      try {
        const secret = await coffer.secrets.update(name(i), { v: String(n) });
        acked[i] = Math.max(acked[i]!, secret.version);
        writes++;
      } catch (error) {
        failures.push({ at: performance.now(), what: `write ${name(i)} via ${coffer.addr}: ${(error as Error).message}` });
        await sleep(20);
      }
    }
  };
  const reader = async (i: number) => {
    const coffer = sdk(i + 1);
    while (running) {
      const w = Math.floor(Math.random() * options.writers);
      const floor = acked[w]!;
      if (floor === 0) {
        await sleep(5);
        continue;
      }
      try {
        const secret = await coffer.secrets.get(name(w));
        if (secret.version < floor) stale.push(`${name(w)}: read version ${secret.version} after version ${floor} was acknowledged`);
        reads++;
      } catch (error) {
        failures.push({ at: performance.now(), what: `read ${name(w)} via ${coffer.addr}: ${(error as Error).message}` });
        await sleep(20);
      }
    }
  };
  const done = Promise.all([...acked.map((_, i) => writer(i)), ...Array.from({ length: options.readers }, (_, i) => reader(i))]);
  return {
    acked,
    failures,
    stale,
    counts: () => ({ reads, writes }),
    stop: async () => {
      running = false;
      await done;
    },
  };
}

async function receiver(t: TestContext) {
  const received: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

function api(url: string, token: string | null) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(url + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}

/** Milliseconds until every node answers `want` to `call`; fails past `limitMs`. */
async function everyNode(cluster: Cluster, call: (url: string) => Promise<number>, want: number, limitMs: number, what: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    const statuses = await Promise.all(cluster.nodes.map((node) => call(node.url)));
    const took = performance.now() - started;
    if (statuses.every((status) => status === want)) return took;
    if (took > limitMs) assert.fail(`${what}: after ${Math.round(took)} ms the nodes answer ${statuses.join(", ")}, not ${want}`);
    await sleep(10);
  }
}

test("three nodes behind HAProxy on one PostgreSQL and Redis", { timeout: 420_000 }, async (t) => {
  const reason = await clusterUnavailable();
  if (reason) return t.skip(reason);
  const began = performance.now();
  const cluster = await startCluster(t, { nodes: 3, env: { COFFER_ROTATION_CHECK_SECONDS: "1" } });
  t.after(() => cluster.close());
  const admin = api(cluster.url, cluster.adminToken);

  t.diagnostic(`cluster up in ${Math.round(performance.now() - began)} ms`);
  await t.test("under a mixed load, a SIGKILL, a restart and a rolling restart lose no acknowledged write and serve no stale read; the SDK fails only in the kill window", async () => {
    const load = startLoad(cluster, { writers: 4, readers: 4, prefix: "load" });
    await sleep(1500);
    const killedAt = performance.now();
    await cluster.kill(1);
    await sleep(1500);
    await cluster.start(1);
    // HAProxy sees it up within one check (250 ms); the window closes a second after that.
    const killWindowEnd = performance.now() + 1000;
    await sleep(1000);
    const rolling = performance.now();
    for (let i = 0; i < cluster.nodes.length; i++) {
      const stopping = performance.now();
      await cluster.stop(i);
      const stopped = performance.now();
      await cluster.start(i);
      t.diagnostic(`node ${i + 1}: stopped in ${Math.round(stopped - stopping)} ms, started in ${Math.round(performance.now() - stopped)} ms`);
      await sleep(500);
    }
    t.diagnostic(`kill and restart took ${Math.round(rolling - killedAt)} ms, the rolling restart ${Math.round(performance.now() - rolling)} ms`);
    await load.stop();
    const { reads, writes } = load.counts();
    t.diagnostic(`${writes} writes and ${reads} reads acknowledged; ${load.failures.length} SDK failures, all in the kill window`);
    assert.ok(writes > 50 && reads > 50, `the load ran (${writes} writes, ${reads} reads)`);
    assert.deepEqual(load.stale, [], "no read older than an acknowledged write");
    const outside = load.failures.filter((failure) => failure.at < killedAt || failure.at > killWindowEnd);
    assert.deepEqual(outside.map((failure) => failure.what), [], "no SDK failure outside the kill window (the rolling restart drains)");

    const check = new Coffer({ addr: cluster.url, token: cluster.adminToken, workspace: "default" });
    for (const [i, version] of load.acked.entries()) {
      const secret = await check.secrets.get(`load/w${i}`);
      assert.ok(secret.version >= version, `load/w${i}: version ${secret.version} kept every acknowledged write (last ${version})`);
    }

    const verified = await admin("GET", "/api/v1/audit/verify");
    assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
    // Request ids start with a per-process prefix: the one chain holds events written by every process that ran.
    const page = await admin("GET", "/api/v1/audit?limit=1000&action=secret.update");
    const writers = new Set((page.body.events as { requestId: string }[]).map((event) => event.requestId.slice(0, 12)));
    assert.ok(writers.size >= 3, `one audit chain with several writers (${writers.size} processes wrote to it) verifies`);
  });

  await t.test("a write answered by one node reads back and lists at its new version from any node at once, natively and through the Vault adapter, under load and from a node whose notifications come late", async (st) => {
    const load = startLoad(cluster, { writers: 2, readers: 4, prefix: "fresh-load" });
    st.after(() => load.stop());
    // A fourth node on the same store, behind a link to PostgreSQL that delivers everything 100 ms late.
    const link = await slowLink(cluster.database.url, 100);
    st.after(() => link.close());
    const late = await startServer(st, { kind: "postgres", dataDir: tempDir(), databaseUrl: link.url }, { COFFER_ROOT_KEY: cluster.rootKey });
    st.after(() => late.kill());
    const nodes = [...cluster.nodes.map((node) => node.url), late.url].map((url) => api(url, cluster.adminToken));
    const path = `${WS}/secrets/fresh%2Fone`;
    const vaultPath = "/v1/secret/data/fresh/one";
    assert.equal((await admin("POST", `${WS}/secrets`, { name: "fresh/one", data: { v: "0" } })).status, 201);
    const stale: string[] = [];
    const listed = `${WS}/secrets?prefix=fresh%2F`;
    for (let round = 1; round <= 15; round++) {
      // Every node holds the current version in its caches before the write.
      await Promise.all(nodes.flatMap((node) => [node("GET", path), node("GET", listed)]));
      const writer = round % cluster.nodes.length;
      const written = await nodes[writer]!("PUT", path, { data: { v: String(round) } });
      assert.equal(written.status, 200, JSON.stringify(written.body));
      // Right after the answer, with nothing in between: every other node reads (alternately through the Vault adapter) and lists.
      const viaVault = round % 2 === 0;
      const others = (call: (node: (typeof nodes)[number]) => ReturnType<(typeof nodes)[number]>) => Promise.all(nodes.map((node, i) => (i === writer ? undefined : call(node))));
      const [reads, lists] = await Promise.all([others((node) => node("GET", viaVault ? vaultPath : path)), others((node) => node("GET", listed))]);
      for (const [i, read] of reads.entries()) {
        const served = read && (viaVault ? { version: read.body.data?.metadata?.version, v: read.body.data?.data?.v } : { version: read.body.version, v: read.body.data?.v });
        if (served && (served.version !== written.body.version || served.v !== String(round))) {
          stale.push(`round ${round}: node ${i + 1} served version ${served.version} ${viaVault ? "through the Vault adapter " : ""}after node ${writer + 1} answered version ${written.body.version}`);
        }
      }
      for (const [i, list] of lists.entries()) {
        const version = list?.body.items?.find((item: { name: string }) => item.name === "fresh/one")?.version;
        if (list && version !== written.body.version) stale.push(`round ${round}: node ${i + 1} listed version ${version} after node ${writer + 1} answered version ${written.body.version}`);
      }
    }
    await load.stop();
    assert.deepEqual(stale, [], "no node serves an older version once a write was answered");
    assert.deepEqual(load.stale, []);
  });

  await t.test("token revocation and grant removal reach every node within 1 s under load, also after the notification connections were killed", async () => {
    const load = startLoad(cluster, { writers: 1, readers: 3, prefix: "busy" });
    t.after(() => load.stop());
    assert.equal((await admin("POST", "/api/v1/users", { username: "bob", password: "a long passphrase" })).status, 201);
    assert.equal((await admin("PUT", `${WS}/members/bob`, { role: "member" })).status, 200);
    assert.equal((await admin("POST", `${WS}/secrets`, { name: "team/db", data: { password: "p" } })).status, 201);
    assert.equal((await admin("PUT", `${WS}/secrets/team%2Fdb/grants/user:bob`, { level: "read" })).status, 200);
    const bob = (await api(cluster.url, null)("POST", "/api/v1/auth/login", { username: "bob", password: "a long passphrase" })).body.token as string;
    const readAs = (token: string) => async (url: string) => (await api(url, token)("GET", `${WS}/secrets/team%2Fdb`)).status;
    const mint = async () => (await admin("POST", "/api/v1/auth/tokens", { name: "ci" })).body as { token: string; info: { id: string } };

    // Warm every node's caches (twice: the second read is served from them).
    const ci = await mint();
    for (const token of [bob, ci.token]) {
      await everyNode(cluster, readAs(token), 200, 5000, "warming");
      await everyNode(cluster, readAs(token), 200, 5000, "warming");
    }
    const revokeNode = api(cluster.nodes[0]!.url, cluster.adminToken);
    assert.equal((await revokeNode("DELETE", `/api/v1/auth/tokens/${ci.info.id}`)).status, 204);
    const revoked = await everyNode(cluster, readAs(ci.token), 401, 1000, "a revoked token");
    assert.equal((await api(cluster.nodes[2]!.url, cluster.adminToken)("DELETE", `${WS}/secrets/team%2Fdb/grants/user:bob`)).status, 204);
    const ungranted = await everyNode(cluster, readAs(bob), 404, 1000, "a removed grant");
    t.diagnostic(`revocation reached every node in ${Math.round(revoked)} ms, grant removal in ${Math.round(ungranted)} ms`);

    // Kill every node's LISTEN connection: each notices, drops its caches, and listens again.
    const second = await mint();
    await everyNode(cluster, readAs(second.token), 200, 5000, "warming");
    const client = new pg.Client({ connectionString: cluster.database.url });
    await client.connect();
    const { rows } = await client.query("select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = 'coffer-changes' and datname = current_database()");
    await client.end();
    assert.equal(rows.length, 3, "one notification connection per node");
    assert.equal((await revokeNode("DELETE", `/api/v1/auth/tokens/${second.info.id}`)).status, 204);
    const afterKill = await everyNode(cluster, readAs(second.token), 401, 1000, "a revocation right after the LISTEN connections were killed");
    await waitFor(async () => cluster.nodes.every((node) => /change feed listening again/.test(node.server!.output())), "every node listening again", 10_000);
    for (const node of cluster.nodes) assert.match(node.server!.output(), /change feed lost \(.*\): caches dropped/);
    const third = await mint();
    await everyNode(cluster, readAs(third.token), 200, 5000, "warming");
    assert.equal((await revokeNode("DELETE", `/api/v1/auth/tokens/${third.info.id}`)).status, 204);
    const reconnected = await everyNode(cluster, readAs(third.token), 401, 1000, "a revocation after reconnecting");
    await load.stop();
    // Between a LISTEN connection's death and its detection, a node may still serve what it cached; the
    // no-stale-read guarantee is the first subtest's, where the feed is up. Reported, not asserted.
    t.diagnostic(`after the kill: ${Math.round(afterKill)} ms; after reconnecting: ${Math.round(reconnected)} ms; ${load.stale.length} stale read(s) around the kill`);
  });

  await t.test("a due self-rotation across three nodes makes one new version, one audit event and one webhook delivery", async () => {
    const hook = await receiver(t);
    assert.equal((await admin("POST", `${WS}/webhooks`, { url: hook.url, events: ["secret.updated"] })).status, 201);
    const created = await admin("POST", `${WS}/secrets`, { name: "svc/api-key", type: "INTERNAL_API_KEY", rotationIntervalDays: 1, autoRotate: true });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    // Make version 1 two days old: overdue, so every node's rotation job (each second) wants it.
    const client = new pg.Client({ connectionString: cluster.database.url });
    await client.connect();
    await client.query("update secret_versions set created_at = created_at - $1 where secret_id = $2", [2 * 86_400_000, id]);
    await client.end();
    await waitFor(async () => (await admin("GET", `${WS}/secrets/${id}`)).body.version === 2, "the rotation", 10_000);
    await waitFor(async () => hook.received.length >= 1, "the webhook delivery", 10_000);
    await sleep(3000); // every node's job has run a few more times
    const versions = await admin("GET", `${WS}/secrets/${id}/versions`);
    assert.deepEqual((versions.body.versions as { version: number }[]).map((v) => v.version), [2, 1], "one new version");
    const events = await admin("GET", `/api/v1/audit?action=secret.auto-rotate&secret=${id}`);
    assert.equal(events.body.events.length, 1, "one audit event");
    const deliveries = hook.received.filter((delivery) => JSON.parse(delivery.body).details.secretId === id);
    assert.equal(deliveries.length, 1, "one webhook delivery");
    assert.equal(JSON.parse(deliveries[0]!.body).type, "secret.updated");
  });
});
