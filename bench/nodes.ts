/**
 * `npm run bench -- --nodes N [--duration S]`: read throughput of one node,
 * and of N nodes on one PostgreSQL behind HAProxy (the configuration
 * docs/deploy.md shows), then p99 while one node is SIGKILLed halfway
 * through. Prints each process's CPU share (nodes, HAProxy, PostgreSQL's
 * backends are not counted, autocannon is this process), so the output says
 * where the CPU went: on a 2-core machine two nodes share the cores the one
 * node had, so throughput grows only where one node left CPU idle.
 *
 * Needs PostgreSQL (BENCH_POSTGRES_URL names an empty database; otherwise a
 * fresh database on the test server at 127.0.0.1:5432, dropped afterwards)
 * and /usr/sbin/haproxy.
 */
import autocannon, { type Result } from "autocannon";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, HAPROXY, haproxyConfig, sleep, waitFor } from "../packages/server/test/support/cluster.ts";
import { createTestDatabase, type TestDatabase } from "../packages/server/test/support/postgres.ts";
import { startServer, type RunningServer } from "../packages/server/test/support/server.ts";

const CONNECTIONS = 64;
const RATE_LIMIT = 1_000_000;
const SECRET_PATH = "/api/v1/workspaces/default/secrets/bench-read";

interface Row {
  name: string;
  result: Result;
  cpu: Record<string, number>;
}

/** CPU seconds (user + system) of a process, from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function measure(name: string, url: string, token: string, seconds: number, processes: Record<string, () => number | undefined>, during?: () => Promise<void>): Promise<Row> {
  const before = Object.fromEntries(Object.entries(processes).map(([label, pid]) => [label, cpuSeconds(pid())]));
  const self = process.cpuUsage();
  const started = performance.now();
  const running = autocannon({ url: url + SECRET_PATH, connections: CONNECTIONS, duration: seconds, headers: { authorization: `Bearer ${token}` } });
  await during?.();
  const result = await running;
  const wall = (performance.now() - started) / 1000;
  const cpu: Record<string, number> = {};
  for (const [label, pid] of Object.entries(processes)) cpu[label] = (cpuSeconds(pid()) - before[label]!) / wall;
  const used = process.cpuUsage(self);
  cpu.autocannon = (used.user + used.system) / 1e6 / wall;
  return { name, result, cpu };
}

function print(rows: Row[]): void {
  console.log(`\n${"scenario".padEnd(44)} ${"req/s".padStart(8)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"errors".padStart(7)} ${"non-2xx".padStart(8)}  CPU (cores busy)`);
  for (const { name, result, cpu } of rows) {
    const cores = Object.entries(cpu)
      .filter(([, share]) => share > 0.005)
      .map(([label, share]) => `${label} ${share.toFixed(2)}`)
      .join(", ");
    console.log(
      `${name.padEnd(44)} ${Math.round(result.requests.average).toString().padStart(8)} ${String(result.latency.p50).padStart(7)} ${String(result.latency.p99).padStart(7)} ${String(result.errors).padStart(7)} ${String(result.non2xx).padStart(8)}  ${cores}`,
    );
  }
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { nodes: { type: "string" }, duration: { type: "string" } }, strict: false });
  const count = Number(values.nodes ?? 2);
  const seconds = Number(values.duration ?? process.env.BENCH_DURATION ?? 10);
  if (!Number.isInteger(count) || count < 2) throw new Error("--nodes takes a whole number of nodes, 2 or more");
  let database: TestDatabase | undefined;
  const databaseUrl = process.env.BENCH_POSTGRES_URL || (database = await createTestDatabase()).url;
  const dirs: string[] = [];
  const nodes: (RunningServer | null)[] = [];
  let haproxy: ChildProcess | undefined;
  try {
    const env = { COFFER_ROOT_KEY: randomBytes(32).toString("base64"), COFFER_RATE_LIMITS: `reads=${RATE_LIMIT},writes=${RATE_LIMIT}`, COFFER_LOG_LEVEL: "warn" };
    const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
    const start = async (i: number) => {
      const dataDir = mkdtempSync(join(tmpdir(), "coffer-bench-node-"));
      dirs.push(dataDir);
      nodes[i] = await startServer(null, { kind: "postgres", dataDir, databaseUrl }, { ...env, COFFER_LISTEN: `127.0.0.1:${ports[i]}` });
    };
    await start(0);
    const token = nodes[0]!.token!;
    await Promise.all(ports.slice(1).map((_, i) => start(i + 1)));
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    await fetch(`${nodes[0]!.url}/api/v1/workspaces/default/secrets`, { method: "POST", headers, body: JSON.stringify({ name: "bench-read", data: { api_key: "x".repeat(100) } }) });

    const frontend = await freePort();
    const configDir = mkdtempSync(join(tmpdir(), "coffer-bench-haproxy-"));
    dirs.push(configDir);
    writeFileSync(join(configDir, "haproxy.cfg"), haproxyConfig(`127.0.0.1:${frontend}`, ports.map((port) => `127.0.0.1:${port}`)));
    haproxy = spawn(HAPROXY, ["-f", join(configDir, "haproxy.cfg"), "-db"], { stdio: "ignore" });
    const balancer = `http://127.0.0.1:${frontend}`;
    await waitFor(async () => (await fetch(`${balancer}/api/v1/sys/health`)).status === 200, "haproxy", 10_000);

    const processes: Record<string, () => number | undefined> = Object.fromEntries(nodes.map((_, i) => [`node${i + 1}`, () => nodes[i]?.process.pid]));
    processes.haproxy = () => haproxy?.pid;
    console.log(`Reads of one secret, ${CONNECTIONS} connections, ${seconds} s each (after a warm-up), PostgreSQL store, audit on; ${count} nodes`);
    await measure("warm-up", nodes[0]!.url, token, 2, processes);
    await measure("warm-up", balancer, token, 2, processes);
    const rows: Row[] = [];
    rows.push(await measure("one node, direct", nodes[0]!.url, token, seconds, processes));
    rows.push(await measure(`${count} nodes behind HAProxy`, balancer, token, seconds, processes));
    rows.push(
      await measure(`${count} nodes behind HAProxy, node 2 SIGKILLed at ${(seconds / 2).toFixed(1)} s`, balancer, token, seconds, processes, async () => {
        await sleep((seconds * 1000) / 2);
        const victim = nodes[1]!;
        nodes[1] = null;
        await victim.kill();
      }),
    );
    print(rows);
    const [one, many, killed] = rows as [Row, Row, Row];
    const gain = many.result.requests.average / one.result.requests.average;
    const busy = (row: Row) => Object.values(row.cpu).reduce((sum, share) => sum + share, 0);
    console.log(`\n${count} nodes: ${gain.toFixed(2)}× one node's reads. CPU busy: ${busy(one).toFixed(2)} cores with one node, ${busy(many).toFixed(2)} with ${count}.`);
    console.log(
      "Where the CPU goes: with one node, that node's one JavaScript thread is the limit (about one core) while the other core serves " +
        "autocannon and PostgreSQL; more nodes use that other core, until the machine's cores are all busy: past that, nodes only share them.",
    );
    console.log(`While a node was killed: p99 ${killed.result.latency.p99} ms (${killed.result.errors} errors, ${killed.result.non2xx} non-2xx of ${killed.result.requests.total}).`);
  } finally {
    haproxy?.kill("SIGKILL");
    await Promise.all(nodes.map((node) => node?.stop()));
    await database?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
