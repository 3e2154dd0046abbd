/**
 * What every bench scenario shares: the servers under test, the API, and the
 * one way two routes are compared (interleaved, so a machine whose speed
 * drifts weighs on both sides alike).
 */
import autocannon, { type Options, type Result } from "autocannon";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const COFFER_BIN = fileURLToPath(new URL("../packages/cli/bin/coffer.js", import.meta.url));
const BARE_SERVER = fileURLToPath(new URL("./bare-server.ts", import.meta.url));
export const CONNECTIONS = 64;
export const SECRETS_PATH = "/api/v1/workspaces/default/secrets";
/**
 * Load before each run of a side that follows the other side's: a server idle
 * for a second after work collects its heap to give memory back
 * (core/idle-memory.ts), which drops its compiled code too, so a side measured
 * straight after the other side ran would be measured recompiling (about a
 * quarter more CPU a request over its first seconds here), not serving.
 */
const WARMUP_SECONDS = 3;

/** Children still running, for the signal handlers of run.ts to stop. */
export const running = new Set<ChildProcess>();

export interface Child {
  url: string;
  pid: number;
  /** Milliseconds from spawn to listening. */
  startupMs: number;
  /** Everything printed so far (stdout and stderr), for error messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface BenchEnv {
  /** Seconds each side of a comparison runs (split in two halves, A B B A). */
  duration: number;
  store: "SQLite" | "PostgreSQL";
  dataDir: string;
  databaseUrl: string | undefined;
  /** Secrets seeded through the store, in all. */
  secrets: number;
  /** Of those, under deep/ in workspace 'default', and in 'default' in all. */
  deepSecrets: number;
  workspaceSecrets: number;
  /** The audited node every scenario talks to unless it says otherwise. */
  coffer: Child;
  /** A node with --audit off: on the same PostgreSQL database, or on a copy of the seeded SQLite store. */
  unaudited: Child;
  bare: Child;
  /** The bootstrap (owner) token. */
  token: string;
  /** A member who reads `bench-read` through a group grant. */
  memberToken: string;
  /** Server RSS (MiB) once started and idle, before any load. */
  idleRssMiB: number;
  /** One API call that must succeed; returns the raw response body. */
  api(method: string, path: string, body?: unknown, baseUrl?: string): Promise<string>;
}

/** Runs a Node script with this process's Node (24) and waits for its "Listening on URL" line. */
export async function startChild(label: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Child> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
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
      const timer = setTimeout(() => reject(new Error(`${label} did not start within 120 s:\n${output}`)), 120_000);
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
    return { url, pid: child.pid!, startupMs: performance.now() - started, output: () => output, stop };
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

export function startBare(): Promise<Child> {
  return startChild("bare server", [BARE_SERVER]);
}

export function serverArgs(dataDir: string, databaseUrl: string | undefined, extra: string[] = []): string[] {
  const args = [COFFER_BIN, "server", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn", ...extra];
  return databaseUrl ? [...args, "--database-url", databaseUrl] : args;
}

export async function callApi(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<string> {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text;
}

/** Problems that make a result meaningless: a fast 401 or a dropped connection is not throughput. */
function failures(result: Result): string[] {
  const problems: string[] = [];
  if (result.non2xx > 0) problems.push(`${result.non2xx} non-2xx responses ${JSON.stringify(result.statusCodeStats)}`);
  if (result.errors > 0) problems.push(`${result.errors} errors (${result.timeouts} timeouts)`);
  if (result["2xx"] === 0) problems.push("no 2xx responses at all");
  return problems;
}

async function load(title: string, options: Options, seconds: number): Promise<Result> {
  const result = await autocannon({ connections: CONNECTIONS, title, ...options, duration: seconds });
  const problems = failures(result);
  if (problems.length > 0) throw new Error(`'${title}' did not get clean 2xx responses:\n  ${problems.join("\n  ")}`);
  return result;
}

/** Throughput and latency of one side of a comparison, over both its halves. */
export interface Side {
  rps: number;
  p99: number;
  meanMs: number;
  /** Server CPU (user + system) per request in µs; undefined where /proc is not available. */
  cpuMicros: number | undefined;
}

/**
 * Runs A and B in the order A B B A (each half the duration), each run that
 * follows the other side's after a warm-up (WARMUP_SECONDS): both sides see
 * the same stretch of the machine's time, each measured warm.
 */
export async function compare(env: BenchEnv, title: string, a: { options: Options; pid: number }, b: { options: Options; pid: number }): Promise<{ a: Side; b: Side }> {
  const half = env.duration / 2;
  process.stdout.write(`${title} ... `);
  const runs = { a: [] as Result[], b: [] as Result[] };
  const cpu = { a: 0, b: 0 };
  let previous: "a" | "b" | undefined;
  for (const side of ["a", "b", "b", "a"] as const) {
    const target = side === "a" ? a : b;
    if (side !== previous) await load(title, target.options, WARMUP_SECONDS);
    previous = side;
    const before = cpuSeconds(target.pid);
    runs[side].push(await load(title, target.options, half));
    const after = cpuSeconds(target.pid);
    cpu[side] += before === undefined || after === undefined ? NaN : after - before;
  }
  const sideOf = (results: Result[], cpuSeconds: number): Side => {
    const total = results.reduce((sum, r) => sum + r.requests.total, 0);
    return {
      rps: results.reduce((sum, r) => sum + r.requests.average, 0) / results.length,
      p99: Math.max(...results.map((r) => r.latency.p99)),
      meanMs: results.reduce((sum, r) => sum + r.latency.average, 0) / results.length,
      cpuMicros: Number.isFinite(cpuSeconds) ? (cpuSeconds * 1e6) / total : undefined,
    };
  };
  const out = { a: sideOf(runs.a, cpu.a), b: sideOf(runs.b, cpu.b) };
  console.log(`${Math.round(out.a.rps)} vs ${Math.round(out.b.rps)} req/s`);
  return out;
}

/**
 * CPU seconds (user + system) a process has used, from /proc (Linux only).
 * Unlike req/s, CPU per request does not depend on whether the load
 * generator kept the server busy.
 */
export function cpuSeconds(pid: number): number | undefined {
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

/** Resident set size of a process in MiB, from /proc; NaN where not available. */
export function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Latency percentiles of `count` sequential calls, in ms. */
export async function timeCalls(count: number, call: () => Promise<unknown>): Promise<{ p50: number; p99: number; mean: number }> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await call();
    times.push(performance.now() - start);
  }
  times.sort((x, y) => x - y);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: times.reduce((s, t) => s + t, 0) / times.length };
}
