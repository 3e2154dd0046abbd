/**
 * `npm run bench`: Coffer's REST API against a bare Fastify route, in one run
 * on one machine, so the ratio between them is meaningful wherever it runs
 * (absolute req/s are not: they depend on the machine and what else it does).
 *
 * Starts a real `coffer server` (SQLite in a fresh temp dir by default, or
 * PostgreSQL with `--postgres URL` / BENCH_POSTGRES_URL, which must name an
 * empty database) and a bare Fastify server, seeds secrets through the API,
 * then drives each scenario with autocannon and prints a table. The bare
 * route runs twice, first and last of the reads, and the audited and
 * unaudited reads twice each, in the order A … B B A, so the ratios compare
 * means over the same stretch of time; the table adds server CPU per request: on a small shared
 * machine req/s swings between runs, CPU per request hardly does. A second
 * and a third node on the same store run with `--audit off` (the baseline of
 * the cost of auditing) and `--audit-sync always`. A scenario with any
 * non-2xx response or error fails the run (exit 1).
 *
 * Rate limits stay on: the default workspace's per-token limits are set to
 * BENCH_RATE_LIMIT reads and writes per second (the output says so), far
 * above what one machine serves, so every request still goes through the
 * limiter and the figures include its cost, but none is refused. With
 * COFFER_REDIS_URL set the server counts them in that Redis (under a key
 * prefix of this run's own), and the output says which.
 *
 * Environment: BENCH_DURATION seconds per scenario (default 10); COFFER_REDIS_URL.
 */
import autocannon, { type Options, type Request, type Result } from "autocannon";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const COFFER_BIN = fileURLToPath(new URL("../packages/cli/bin/coffer.js", import.meta.url));
const BARE_SERVER = fileURLToPath(new URL("./bare-server.ts", import.meta.url));

/** What the signal handlers below main must clean up: children still running, the temp data dir. */
const running = new Set<ChildProcess>();
let tempDir: string | undefined;

const CONNECTIONS = 64;
/** The highest per-token limit a workspace may set (RATE_LIMIT_MAX). */
const BENCH_RATE_LIMIT = 1_000_000;
const WARMUP_SECONDS = 2;
const SEEDED_SECRETS = 150;
const READ_SECRET = "bench-read";
const SECRETS_PATH = "/api/v1/workspaces/default/secrets";
/** The goal from DESIGN.md "Performance design". */
const TARGET_PERCENT = 50;
/** Two bare runs further apart than this mean the machine's speed changed during the run. */
const BARE_DRIFT_PERCENT = 15;
const BARE = "bare Fastify route";
const BARE_AGAIN = "bare Fastify route (again)";
const READ = "read one secret";
const MEMBER_READ = "read one secret (member via group grant)";
const UNAUDITED_READ = "read one secret (audit off)";
const STRICT_READ = "read one secret (--audit-sync always)";
const READ_AGAIN = "read one secret (again)";
const UNAUDITED_AGAIN = "read one secret (audit off, again)";
/** Issue #5: the audited read keeps at least this share of the same read with audit off. */
const AUDIT_TARGET_PERCENT = 80;
const VAULT_READ = "read one secret, Vault-style (GET /v1/secret/data/NAME)";
/** Issue #8: the Vault-compatible read is within this much of the native one. */
const VAULT_TARGET_PERCENT = 10;
const MEMBER = "bench-member";
/** Issue #3: a member's read through a group grant is within this much of the admin's. */
const MEMBER_TARGET_PERCENT = 10;

interface Settings {
  duration: number;
  postgresUrl: string | undefined;
}

interface Child {
  url: string;
  pid: number;
  /** Everything printed so far (stdout and stderr), for error messages. */
  output(): string;
  stop(): Promise<void>;
}

interface Scenario {
  name: string;
  /** The process that serves it, whose CPU time is measured. */
  server: Child;
  options: Options;
}

interface Row {
  name: string;
  result: Result;
  /** Server CPU time (user + system) per request, in µs; undefined where /proc is not available. */
  cpuMicros: number | undefined;
}

function settings(): Settings {
  const { values } = parseArgs({ options: { postgres: { type: "string" } } });
  const duration = Number(process.env.BENCH_DURATION ?? 10);
  if (!Number.isFinite(duration) || duration <= 0) throw new Error(`BENCH_DURATION must be a positive number of seconds, not '${process.env.BENCH_DURATION}'`);
  const postgresUrl = values.postgres ?? (process.env.BENCH_POSTGRES_URL || undefined);
  return { duration, postgresUrl };
}

/**
 * Runs a Node script with this process's Node (24: the machine's default
 * node may be older) and waits for its "Listening on URL" line.
 */
async function startChild(label: string, args: string[]): Promise<Child> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  // Keep reading both pipes for the whole run: a child blocked on a full pipe would look slow.
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const exited = once(child, "exit");
  const stop = () => stopChild(child, exited);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label} did not start within 20 s:\n${output}`)), 20_000);
      child.stdout.on("data", () => {
        const match = /Listening on (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${label} exited (${signal ?? code}) before listening:\n${output}`));
      });
    });
    return { url, pid: child.pid!, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  // A server that does not close within 5 s is killed; the run is over either way.
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Started exactly like packages/server/test/support/server.ts does. */
async function startCoffer(dataDir: string, databaseUrl: string | undefined): Promise<{ server: Child; token: string }> {
  const server = await startChild("coffer server", serverArgs(dataDir, databaseUrl));
  const token = /^\s+(cft_\w+)$/m.exec(server.output())?.[1];
  if (!token) {
    await server.stop();
    throw new Error(`coffer server printed no bootstrap token (is the database not empty?):\n${server.output()}`);
  }
  return { server, token };
}

function serverArgs(dataDir: string, databaseUrl: string | undefined): string[] {
  const args = [COFFER_BIN, "server", "--listen", "127.0.0.1:0", "--data-dir", dataDir];
  return databaseUrl ? [...args, "--database-url", databaseUrl] : args;
}

/** A second node on the same store with the audit log off: the baseline for the cost of auditing. */
function startUnaudited(dataDir: string, databaseUrl: string | undefined): Promise<Child> {
  return startChild("coffer server --audit off", [...serverArgs(dataDir, databaseUrl), "--audit", "off"]);
}

/** A third node on the same store whose reads too wait for their audit events to be synced to disk. */
function startStrict(dataDir: string, databaseUrl: string | undefined): Promise<Child> {
  return startChild("coffer server --audit-sync always", [...serverArgs(dataDir, databaseUrl), "--audit-sync", "always"]);
}

/** One API call that must succeed; returns the raw response body. */
async function api(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<string> {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text;
}

/** ~100 random characters: a typical secret value, so responses have a typical size. */
function secretValue(): string {
  return randomBytes(75).toString("base64url");
}

function seededName(index: number): string {
  return `bench/s-${String(index).padStart(3, "0")}`;
}

/** Creates the secrets the scenarios use; returns the size in bytes of a single-secret read response. */
async function seed(baseUrl: string, token: string): Promise<number> {
  for (let i = 0; i < SEEDED_SECRETS; i++) {
    await api(baseUrl, token, "POST", SECRETS_PATH, { name: seededName(i), data: { value: secretValue() } });
  }
  await api(baseUrl, token, "POST", SECRETS_PATH, { name: READ_SECRET, data: { value: secretValue() } });
  const read = await api(baseUrl, token, "GET", `${SECRETS_PATH}/${READ_SECRET}`);
  return Buffer.byteLength(read);
}

/**
 * A member who reads `bench-read` only because a group it belongs to was
 * granted it: the access decision the permission model adds to the hot path.
 * Returns the member's session token.
 */
async function seedMember(baseUrl: string, token: string): Promise<string> {
  const password = randomBytes(16).toString("base64url");
  await api(baseUrl, token, "POST", "/api/v1/users", { username: MEMBER, password });
  await api(baseUrl, token, "PUT", `/api/v1/workspaces/default/members/${MEMBER}`, { role: "member" });
  await api(baseUrl, token, "POST", "/api/v1/workspaces/default/groups", { name: "bench-readers" });
  await api(baseUrl, token, "PUT", `/api/v1/workspaces/default/groups/bench-readers/members/user:${MEMBER}`);
  await api(baseUrl, token, "PUT", `${SECRETS_PATH}/${READ_SECRET}/grants/group:bench-readers`, { level: "read" });
  const response = await fetch(new URL("/api/v1/auth/login", baseUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: MEMBER, password }),
  });
  if (!response.ok) throw new Error(`login as ${MEMBER}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/**
 * PUTs spread round-robin over the seeded secrets: 64 connections over 150
 * rows, so concurrent writes rarely meet on one row and the scenario measures
 * the write path, not retries on one contended row. Each body is new, so
 * every request really writes a new version.
 */
function updateRequest(auth: Record<string, string>): Options["requests"] {
  let next = 0;
  const prefix = secretValue().slice(0, 88);
  return [
    {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      setupRequest: (request: Request): Request => {
        const index = next++ % SEEDED_SECRETS;
        const value = prefix + String(next).padStart(12, "0");
        return {
          ...request,
          path: `${SECRETS_PATH}/${encodeURIComponent(seededName(index))}`,
          body: JSON.stringify({ data: { value } }),
        };
      },
    },
  ];
}

/**
 * The bare route runs on both sides of the read, so the ratio the target is
 * about compares runs close in time: on a shared machine, a neighbour's load
 * can halve the bare figure from one minute to the next.
 */
function scenarios(bare: Child, coffer: Child, unaudited: Child, strict: Child, token: string, memberToken: string): Scenario[] {
  const auth = { authorization: `Bearer ${token}` };
  const bareRoute = { url: `${bare.url}/bare` };
  const readUrl = `${coffer.url}${SECRETS_PATH}/${READ_SECRET}`;
  const unauditedUrl = `${unaudited.url}${SECRETS_PATH}/${READ_SECRET}`;
  return [
    { name: BARE, server: bare, options: bareRoute },
    { name: READ, server: coffer, options: { url: readUrl, headers: auth } },
    { name: VAULT_READ, server: coffer, options: { url: `${coffer.url}/v1/secret/data/${READ_SECRET}`, headers: { "x-vault-token": token } } },
    { name: MEMBER_READ, server: coffer, options: { url: readUrl, headers: { authorization: `Bearer ${memberToken}` } } },
    { name: UNAUDITED_READ, server: unaudited, options: { url: unauditedUrl, headers: auth } },
    { name: UNAUDITED_AGAIN, server: unaudited, options: { url: unauditedUrl, headers: auth } },
    { name: READ_AGAIN, server: coffer, options: { url: readUrl, headers: auth } },
    { name: BARE_AGAIN, server: bare, options: bareRoute },
    // After the reads compared above: syncing every batch writes many more WAL pages, whose checkpointing goes on a while.
    { name: STRICT_READ, server: strict, options: { url: `${strict.url}${SECRETS_PATH}/${READ_SECRET}`, headers: auth } },
    {
      name: "list 100 secrets",
      server: coffer,
      options: { url: `${coffer.url}${SECRETS_PATH}?limit=100&prefix=${encodeURIComponent("bench/")}`, headers: auth },
    },
    { name: "update a secret", server: coffer, options: { url: coffer.url, requests: updateRequest(auth) } },
  ];
}

/** Problems that make a result meaningless: a fast 401 or a dropped connection is not throughput. */
function failures(result: Result): string[] {
  const problems: string[] = [];
  if (result.non2xx > 0) problems.push(`${result.non2xx} non-2xx responses ${JSON.stringify(result.statusCodeStats)}`);
  if (result.errors > 0) problems.push(`${result.errors} errors (${result.timeouts} timeouts)`);
  if (result["2xx"] === 0) problems.push("no 2xx responses at all");
  return problems;
}

/** Warm-up first (JIT, caches, SQLite pages), then the measured run; both must be all 2xx. */
async function run(scenario: Scenario, duration: number): Promise<Row> {
  const base = { connections: CONNECTIONS, title: scenario.name, ...scenario.options };
  process.stdout.write(`${scenario.name}: warm-up ${WARMUP_SECONDS} s, run ${duration} s ... `);
  check(scenario, "warm-up", await autocannon({ ...base, duration: WARMUP_SECONDS }));
  const cpuBefore = cpuSeconds(scenario.server.pid);
  const result = check(scenario, "run", await autocannon({ ...base, duration }));
  const cpuAfter = cpuSeconds(scenario.server.pid);
  const cpuMicros = cpuBefore === undefined || cpuAfter === undefined ? undefined : ((cpuAfter - cpuBefore) * 1e6) / result.requests.total;
  console.log(`${Math.round(result.requests.average)} req/s`);
  return { name: scenario.name, result, cpuMicros };
}

/**
 * CPU seconds (user + system) a process has used, from /proc (Linux only).
 * Unlike req/s, CPU per request does not depend on whether the load
 * generator kept the server busy: on a 2-core VM shared with autocannon the
 * same server measures 45k or 90k req/s from one run to the next, at the same
 * CPU cost per request.
 */
function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  // USER_HZ, the unit of these fields, is 100 on every Linux architecture Node runs on.
  return Number.isFinite(ticks) ? ticks / 100 : undefined;
}

function check(scenario: Scenario, phase: string, result: Result): Result {
  const problems = failures(result);
  if (problems.length > 0) {
    console.log("FAILED");
    throw new Error(`scenario '${scenario.name}' (${phase}) did not get clean 2xx responses:\n  ${problems.join("\n  ")}`);
  }
  return result;
}

function rateOf(rows: Row[], name: string): number {
  const row = rows.find((candidate) => candidate.name === name);
  if (!row) throw new Error(`no result for '${name}'`);
  return row.result.requests.average;
}

/** The baseline every ratio is taken against: the mean of the two bare runs. */
function bareRate(rows: Row[]): number {
  return (rateOf(rows, BARE) + rateOf(rows, BARE_AGAIN)) / 2;
}

/** The read and the read with audit off each ran twice, in the order A … B B A, so a drift of the machine's speed weighs on both alike. */
function readRate(rows: Row[]): number {
  return (rateOf(rows, READ) + rateOf(rows, READ_AGAIN)) / 2;
}

function unauditedRate(rows: Row[]): number {
  return (rateOf(rows, UNAUDITED_READ) + rateOf(rows, UNAUDITED_AGAIN)) / 2;
}

function printTable(rows: Row[]): void {
  const bare = bareRate(rows);
  // autocannon records latency in whole milliseconds, so p50 of a fast route reads 0 or 1; the mean keeps the fraction.
  const header = ["scenario", "req/s", "mean ms", "p50 ms", "p99 ms", "% of bare", "server CPU µs/req"];
  const lines = rows.map(({ name, result, cpuMicros }) => [
    name,
    Math.round(result.requests.average).toString(),
    result.latency.average.toFixed(2),
    result.latency.p50.toString(),
    result.latency.p99.toString(),
    `${percentOf(result.requests.average, bare)}%`,
    cpuMicros === undefined ? "-" : cpuMicros.toFixed(1),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
  // Names align left, numbers right, as in any table of figures.
  const format = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  console.log();
  console.log(format(header));
  console.log(widths.map((width) => "-".repeat(width)).join("  "));
  for (const line of lines) console.log(format(line));
  console.log();
}

/** Says so when the bare runs disagree: the ratios are then noise, not a result. */
function warnOnDrift(rows: Row[]): void {
  const first = rateOf(rows, BARE);
  const again = rateOf(rows, BARE_AGAIN);
  const apart = percentOf(Math.abs(first - again), Math.min(first, again));
  console.log(`bare route: ${Math.round(first)} then ${Math.round(again)} req/s, ${apart}% apart; ratios are to their mean`);
  if (Number(apart) > BARE_DRIFT_PERCENT) {
    console.log(`WARNING: the bare runs are more than ${BARE_DRIFT_PERCENT}% apart: the machine's speed changed during the run; run again`);
  }
}

/**
 * The same comparison by server CPU per request: what throughput ratio the
 * read would reach if both servers were kept saturated. A cross-check on the
 * req/s ratio, which a busy or throttled load generator distorts.
 */
function printCpuRatio(rows: Row[]): void {
  const cpu = (name: string) => rows.find((row) => row.name === name)?.cpuMicros;
  const [first, again, read] = [cpu(BARE), cpu(BARE_AGAIN), cpu(READ)];
  if (first === undefined || again === undefined || read === undefined) return;
  const bare = (first + again) / 2;
  console.log(`  by server CPU per request: bare ${bare.toFixed(1)} µs, read ${read.toFixed(1)} µs, so ${percentOf(bare, read)}% of bare`);
}

/** `value` as a percentage of `whole`, one decimal: "40.0". */
function percentOf(value: number, whole: number): string {
  return ((value / whole) * 100).toFixed(1);
}

/**
 * Issue #4: the whole wall time of `coffer run` with three secrets (start
 * Node, load the CLI, one batch read, start `true`, wait for it) next to a
 * bare `node -e ''`, alternating, median of CLI_RUNS each. One unmeasured
 * run of each first: it fills Node's compile cache (stripped TypeScript and
 * compiled code), as any earlier use of coffer on the machine has.
 */
const CLI_RUNS = 10;
const CLI_TARGET_RATIO = 3;

async function benchCliRun(baseUrl: string, token: string, configDir: string): Promise<void> {
  const names = ["bench-cli/a", "bench-cli/b", "bench-cli/c"];
  for (const name of names) await api(baseUrl, token, "PUT", `${SECRETS_PATH}/${encodeURIComponent(name)}`, { data: { value: secretValue() } });
  // No saved login from the machine's user: address and token come from the environment only.
  const env = { ...process.env, COFFER_ADDR: baseUrl, COFFER_TOKEN: token, COFFER_WORKSPACE: "default", COFFER_CONFIG_DIR: configDir };
  const cli = [COFFER_BIN, "run", ...names.flatMap((name) => ["--secret", name]), "--", "true"];
  const bare = ["-e", ""];
  const time = (args: string[]): number => {
    const start = performance.now();
    const result = spawnSync(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"], timeout: 30_000 });
    const elapsed = performance.now() - start;
    if (result.status !== 0) throw new Error(`${args.join(" ")} exited ${result.status ?? result.signal}: ${result.stderr}`);
    return elapsed;
  };
  time(cli);
  time(bare);
  const cliTimes: number[] = [];
  const bareTimes: number[] = [];
  for (let i = 0; i < CLI_RUNS; i++) {
    bareTimes.push(time(bare));
    cliTimes.push(time(cli));
  }
  const median = (times: number[]) => {
    const sorted = [...times].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const [cliMs, bareMs] = [median(cliTimes), median(bareTimes)];
  console.log(`coffer run -- true: ${cliMs.toFixed(0)} ms vs node -e '': ${bareMs.toFixed(0)} ms (${(cliMs / bareMs).toFixed(1)}×, target ≤ ${CLI_TARGET_RATIO}×)`);
}

async function main(): Promise<void> {
  const { duration, postgresUrl } = settings();
  const storeName = postgresUrl ? "PostgreSQL" : "SQLite";
  const dataDir = (tempDir = await mkdtemp(join(tmpdir(), "coffer-bench-")));
  const children: Child[] = [];
  try {
    if (process.env.COFFER_REDIS_URL) process.env.COFFER_REDIS_PREFIX ??= `coffer-bench-${randomBytes(6).toString("hex")}:`;
    const { server: coffer, token } = await startCoffer(dataDir, postgresUrl);
    children.push(coffer);
    await api(coffer.url, token, "PATCH", "/api/v1/workspaces/default", { rateLimits: { readsPerSecond: BENCH_RATE_LIMIT, writesPerSecond: BENCH_RATE_LIMIT } });
    const countedIn = /counted in (.+)$/m.exec(coffer.output())?.[1] ?? "?";
    const readBytes = await seed(coffer.url, token);
    const memberToken = await seedMember(coffer.url, token);
    const unaudited = await startUnaudited(dataDir, postgresUrl);
    children.push(unaudited);
    const strict = await startStrict(dataDir, postgresUrl);
    children.push(strict);
    // The bare route sends as many bytes as the read does, so the two differ only in work per request.
    const bare = await startChild("bare server", [BARE_SERVER, String(readBytes)]);
    children.push(bare);
    console.log(`Node ${process.version}, ${CONNECTIONS} connections, store ${storeName}, read response ${readBytes} bytes`);
    console.log(`rate limits on, counted in ${countedIn}; workspace 'default' set to ${BENCH_RATE_LIMIT} reads/s and writes/s per token so that none is refused`);

    const rows: Row[] = [];
    for (const scenario of scenarios(bare, coffer, unaudited, strict, token, memberToken)) {
      rows.push(await run(scenario, duration));
    }
    printTable(rows);
    warnOnDrift(rows);
    console.log(`single-secret read on ${storeName}: ${percentOf(readRate(rows), bareRate(rows))}% of bare (target ≥ ${TARGET_PERCENT}%)`);
    printCpuRatio(rows);
    const memberGap = (1 - rateOf(rows, MEMBER_READ) / readRate(rows)) * 100;
    console.log(`member read through a group grant: ${memberGap.toFixed(1)}% below the admin read (target within ${MEMBER_TARGET_PERCENT}%)`);
    console.log(`audited read: ${percentOf(readRate(rows), unauditedRate(rows))}% of the same read with audit off (target ≥ ${AUDIT_TARGET_PERCENT}%)`);
    console.log(`  with --audit-sync always (every read's event synced to disk before its answer): ${percentOf(rateOf(rows, STRICT_READ), unauditedRate(rows))}%`);
    const vaultGap = (1 - rateOf(rows, VAULT_READ) / readRate(rows)) * 100;
    console.log(`Vault-style read: ${vaultGap.toFixed(1)}% below the native read (target within ${VAULT_TARGET_PERCENT}%)`);
    const cpu = (name: string) => rows.find((row) => row.name === name)?.cpuMicros ?? NaN;
    console.log(`  by server CPU per request: native ${cpu(READ).toFixed(1)} µs, Vault-style ${cpu(VAULT_READ).toFixed(1)} µs`);
    await benchCliRun(coffer.url, token, join(dataDir, "cli-config"));
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await rm(dataDir, { recursive: true, force: true });
  }
}

// On Ctrl-C or kill, main's finally never runs: stop the servers here instead.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of running) child.kill("SIGTERM");
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    process.exit(130);
  });
}

try {
  // `--nodes N`: the several-nodes scenario (bench/nodes.ts) instead of the table above.
  if (process.argv.includes("--nodes")) await (await import("./nodes.ts")).run(process.argv.slice(2));
  else await main();
} catch (error) {
  console.error(`\nbench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
