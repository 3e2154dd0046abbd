/**
 * `npm run bench -- --nodes N [--duration S]`: read throughput of one node,
 * and of N nodes on one PostgreSQL behind HAProxy (the configuration
 * docs/deploy.md shows), then p99 while one node is SIGKILLed halfway
 * through. Prints each process's CPU share (nodes, HAProxy, autocannon,
 * which is this process), the whole machine's busy cores (PostgreSQL's
 * backends and whatever else runs there) and the load average, and from
 * them says where the limit was: a node's one JavaScript thread, the
 * machine's cores, or neither (waiting on PostgreSQL). PostgreSQL
 * transactions per request show what the read path asks of the database.
 *
 * Needs PostgreSQL (BENCH_POSTGRES_URL names an empty database; otherwise a
 * fresh database on the test server at 127.0.0.1:5432, dropped afterwards)
 * and /usr/sbin/haproxy.
 */
import autocannon, { type Result } from "autocannon";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
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
  /** Cores busy on the whole machine, this benchmark's processes and everything else. */
  machine: number;
  /** PostgreSQL transactions committed per answered request, on the benchmark's database. */
  transactionsPerRequest: number;
}

/** Busy and total jiffies of all cores, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, n) => sum + n, 0);
  const idle = fields[3]! + fields[4]!; // idle + iowait
  return { busy: total - idle, total };
}

/** Transactions committed on `databaseUrl`'s database so far (the statistics lag by up to half a second). */
async function committed(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("select pg_stat_clear_snapshot()");
    const { rows } = await client.query<{ n: string }>("select xact_commit as n from pg_stat_database where datname = current_database()");
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
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

async function measure(name: string, url: string, token: string, seconds: number, processes: Record<string, () => number | undefined>, databaseUrl: string, during?: () => Promise<void>): Promise<Row> {
  const transactionsBefore = await committed(databaseUrl);
  const ticks = machineTicks();
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
  const after = machineTicks();
  const machine = ((after.busy - ticks.busy) / (after.total - ticks.total)) * availableParallelism();
  await sleep(600); // the statistics collector's delay
  const transactionsPerRequest = ((await committed(databaseUrl)) - transactionsBefore) / Math.max(1, result.requests.total);
  return { name, result, cpu, machine, transactionsPerRequest };
}

function print(rows: Row[]): void {
  console.log(`\n${"scenario".padEnd(44)} ${"req/s".padStart(8)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"errors".padStart(7)} ${"non-2xx".padStart(8)} ${"PG tx/req".padStart(9)}  CPU (cores busy)`);
  for (const { name, result, cpu, machine, transactionsPerRequest } of rows) {
    const cores = Object.entries(cpu)
      .filter(([, share]) => share > 0.005)
      .map(([label, share]) => `${label} ${share.toFixed(2)}`)
      .join(", ");
    console.log(
      `${name.padEnd(44)} ${Math.round(result.requests.average).toString().padStart(8)} ${String(result.latency.p50).padStart(7)} ${String(result.latency.p99).padStart(7)} ${String(result.errors).padStart(7)} ${String(result.non2xx).padStart(8)} ${transactionsPerRequest.toFixed(2).padStart(9)}  ${cores}; machine ${machine.toFixed(2)} of ${availableParallelism()}`,
    );
  }
}

/** Where a run's CPU limit was, from its figures rather than from what one expects. */
function limitOf(row: Row, ours: number): string {
  const cores = availableParallelism();
  const others = Math.max(0, row.machine - ours);
  const nodes = Object.entries(row.cpu).filter(([label]) => label.startsWith("node"));
  const busiest = nodes.reduce((top, entry) => (entry[1] > top[1] ? entry : top), ["", 0] as [string, number]);
  if (busiest[1] >= 0.85) return `${busiest[0]}'s JavaScript thread is the limit (${busiest[1].toFixed(2)} of one core).`;
  if (row.machine >= cores * 0.9) {
    return `the machine's ${cores} cores are the limit: ${row.machine.toFixed(2)} busy, ${others.toFixed(2)} of them by processes outside the nodes, HAProxy and autocannon (PostgreSQL, other work on the machine).`;
  }
  return `no core is saturated (${row.machine.toFixed(2)} of ${cores} busy): the nodes wait on PostgreSQL round trips.`;
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
    const loadBefore = loadavg()[0]!;
    await measure("warm-up", nodes[0]!.url, token, 2, processes, databaseUrl);
    await measure("warm-up", balancer, token, 2, processes, databaseUrl);
    const rows: Row[] = [];
    rows.push(await measure("one node, direct", nodes[0]!.url, token, seconds, processes, databaseUrl));
    rows.push(await measure(`${count} nodes behind HAProxy`, balancer, token, seconds, processes, databaseUrl));
    rows.push(
      await measure(`${count} nodes behind HAProxy, node 2 SIGKILLed at ${(seconds / 2).toFixed(1)} s`, balancer, token, seconds, processes, databaseUrl, async () => {
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
    console.log(`Load average ${loadBefore.toFixed(2)} before the runs, ${loadavg()[0]!.toFixed(2)} after, on ${availableParallelism()} cores.`);
    for (const row of [one, many]) console.log(`${row.name}: ${limitOf(row, busy(row))}`);
    console.log(`While a node was killed: p99 ${killed.result.latency.p99} ms (${killed.result.errors} errors, ${killed.result.non2xx} non-2xx of ${killed.result.requests.total}).`);
  } finally {
    haproxy?.kill("SIGKILL");
    await Promise.all(nodes.map((node) => node?.stop()));
    await database?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
