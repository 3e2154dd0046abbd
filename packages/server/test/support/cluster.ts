/**
 * Several `coffer server` processes on one PostgreSQL (and Redis), each on a
 * fixed free port so a restarted node comes back where the balancer expects
 * it, behind a real HAProxy (Debian's /usr/sbin/haproxy) started here with
 * the configuration docs/deploy.md shows. Outside CI a missing PostgreSQL,
 * Redis or HAProxy skips the test and says which; in CI (CI=true) they are
 * required, and HAProxy is installed from Debian when missing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { accessSync, constants, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { debianPackagePresent } from "./debian.ts";
import { createTestDatabase, postgresUnavailable, type TestDatabase } from "./postgres.ts";
import { REDIS_URL, redisPrefix, redisUnavailable } from "./redis.ts";
import { startServer, type RunningServer } from "./server.ts";
import { tempDir } from "./stores.ts";

export const HAPROXY = process.env.COFFER_TEST_HAPROXY ?? "/usr/sbin/haproxy";

function haproxyRuns(): boolean {
  try {
    accessSync(HAPROXY, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** null when PostgreSQL, Redis and HAProxy are all there; otherwise why not. Throws in CI. */
export async function clusterUnavailable(): Promise<string | null> {
  const reasons = [await postgresUnavailable(), await redisUnavailable()];
  if (!debianPackagePresent("haproxy", haproxyRuns)) reasons.push(`HAProxy is not installed at ${HAPROXY} (apt-get install haproxy)`);
  const reason = reasons.filter((r) => r !== null).join("; ");
  if (reason && process.env.CI === "true") throw new Error(`${reason}; CI requires it`);
  return reason || null;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Node {
  port: number;
  url: string;
  server: RunningServer | null;
  /** Everything every run of this node printed. */
  log: string;
}

export interface Cluster {
  database: TestDatabase;
  nodes: Node[];
  /** The balancer's address. */
  url: string;
  adminToken: string;
  /** Every node's COFFER_ROOT_KEY, for one more node started by hand. */
  rootKey: string;
  /** Starts node i (again) on its port and waits until its health check passes. */
  start(i: number): Promise<void>;
  /** SIGTERM: the node drains (COFFER_DRAIN_SECONDS) and exits. */
  stop(i: number): Promise<void>;
  kill(i: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The HAProxy configuration docs/deploy.md shows (a test checks they agree):
 * `bind` is the balancer's address, `servers` the nodes'. Tests check every
 * 250 ms instead of the documented 1 s.
 */
export function haproxyConfig(bind: string, servers: string[], checkMs = 250): string {
  const check = checkMs % 1000 === 0 ? `${checkMs / 1000}s` : `${checkMs}ms`;
  return `global
    maxconn 4096

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    # A refused or failed connection is tried again on another node (redispatch);
    # an empty answer or a 503 (sealed, draining) too, except for POST and PATCH,
    # which may have been carried out.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response 503

frontend coffer
    bind ${bind}
    default_backend coffer_nodes

backend coffer_nodes
    balance roundrobin
    acl not_repeatable method POST PATCH
    http-request disable-l7-retry if not_repeatable
    # 200 only when unsealed, store reachable and not draining (GET /api/v1/sys/health)
    option httpchk GET /api/v1/sys/health
    http-check expect status 200
    default-server inter ${check} fall 2 rise 1
${servers.map((server, i) => `    server node${i + 1} ${server} check`).join("\n")}
`;
}

async function startHaproxy(t: TestContext, config: string, port: number): Promise<ChildProcess> {
  const dir = tempDir("haproxy");
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, config);
  const child = spawn(HAPROXY, ["-f", file, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  t.after(() => (child.exitCode === null ? child.kill("SIGKILL") : undefined));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${output}`);
    const up = await fetch(`http://127.0.0.1:${port}/api/v1/sys/health`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (up) return child;
    if (Date.now() > deadline) throw new Error(`haproxy did not pass a request within 10 s:\n${output}`);
    await sleep(100);
  }
}

export interface ClusterOptions {
  nodes: number;
  /** Extra environment for every node. */
  env?: Record<string, string>;
}

/** Starts the nodes (the first initialises the store) and HAProxy in front of them. */
export async function startCluster(t: TestContext, options: ClusterOptions): Promise<Cluster> {
  const database = await createTestDatabase();
  const env = {
    COFFER_ROOT_KEY: randomBytes(32).toString("base64"),
    COFFER_REDIS_URL: REDIS_URL,
    COFFER_REDIS_PREFIX: redisPrefix(t),
    COFFER_DRAIN_SECONDS: "1",
    COFFER_SHUTDOWN_GRACE_SECONDS: "10",
    ...options.env,
  };
  const ports = await Promise.all(Array.from({ length: options.nodes }, () => freePort()));
  const nodes: Node[] = ports.map((port) => ({ port, url: `http://127.0.0.1:${port}`, server: null, log: "" }));
  const dataDirs = nodes.map(() => tempDir());
  const start = async (i: number) => {
    const node = nodes[i]!;
    const server = await startServer(t, { kind: "postgres", dataDir: dataDirs[i]!, databaseUrl: database.url }, { ...env, COFFER_LISTEN: `127.0.0.1:${node.port}` });
    node.server = server;
    server.process.on("exit", () => (node.log += server.output()));
    await waitFor(async () => (await fetch(`${node.url}/api/v1/sys/health`)).status === 200, `node ${i + 1} healthy`, 30_000);
  };
  const end = async (i: number, how: "stop" | "kill") => {
    const server = nodes[i]!.server;
    nodes[i]!.server = null;
    await server?.[how]();
  };
  await start(0);
  const adminToken = nodes[0]!.server!.token!;
  await Promise.all(nodes.slice(1).map((_, i) => start(i + 1)));
  const frontend = await freePort();
  const haproxy = await startHaproxy(t, haproxyConfig(`127.0.0.1:${frontend}`, ports.map((port) => `127.0.0.1:${port}`)), frontend);
  let closed = false;
  const cluster: Cluster = {
    database,
    nodes,
    url: `http://127.0.0.1:${frontend}`,
    adminToken,
    rootKey: env.COFFER_ROOT_KEY,
    start,
    stop: (i) => end(i, "stop"),
    kill: (i) => end(i, "kill"),
    close: async () => {
      if (closed) return;
      closed = true;
      haproxy.kill("SIGTERM");
      await Promise.all(nodes.map((_, i) => end(i, "kill")));
      await database.drop();
    },
  };
  return cluster;
}

export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { once };
