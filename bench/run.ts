/**
 * `npm run bench`: Coffer's routes against a bare Fastify route (or another
 * baseline) in one run on one machine, so the ratio between them means
 * something wherever it runs; absolute req/s do not.
 *
 * Seeds a fresh store through the store layer (bench/seed.ts), starts an
 * audited `coffer server`, a second node with --audit off (on the same
 * PostgreSQL database; on SQLite, which serves one server, on a copy of the
 * store) and a bare Fastify server, runs every scenario of bench/scenarios.ts
 * and prints one table: scenario, Coffer, bare, share, goal, ✓/✗. The figures
 * also go to bench/results/<time>.json (not committed), to compare runs.
 *
 * Its options are USAGE below (`npm run bench -- --help`).
 *
 * Rate limits stay on: the default workspace's per-token limits are set far
 * above what one machine serves, so every request still goes through the
 * limiter but none is refused. A scenario with any non-2xx response fails the
 * run (exit 1); a goal not met does not.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { callApi, CONNECTIONS, rssMiB, running, serverArgs, startBare, startChild, type BenchEnv, type Child } from "./bench-env.ts";
import type { Row } from "./scenario.ts";
import { SCENARIOS } from "./scenarios.ts";
import { READ_SECRET, seedStore } from "./seed.ts";

const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));
const DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/test";
/** The highest per-token limit a workspace may set (RATE_LIMIT_MAX). */
const BENCH_RATE_LIMIT = 1_000_000;
const MEMBER = "bench-member";
/** Let start-up work (JIT, first queries, the checkpointer) settle before the idle RSS is taken. */
const IDLE_SETTLE_MS = 2_000;

const TITLES = SCENARIOS.map((scenario) => scenario.title).join(", ");
const USAGE = `npm run bench -- [options]

  --duration N      seconds each side of a comparison runs (default 10; env BENCH_DURATION)
  --secrets N       secrets to seed (default 10000); above 10000 the rest go to 99 more
                    workspaces with 1000 users and grants (e.g. --secrets 100000)
  --only TITLE      run only the scenarios of that title (${TITLES})
  --postgres        run on PostgreSQL: a fresh database on the server of
                    --postgres-url (default ${DEFAULT_POSTGRES}), dropped after
  --nodes N         instead of the table: one node against N nodes on PostgreSQL
                    behind HAProxy, and p99 while one node is killed (bench/nodes.ts)
  --help            this text

Prints one table (scenario, Coffer, bare, share, goal, ✓/✗) and saves the
figures to bench/results/<time>.json to compare runs.`;

let cleanup: (() => void) | undefined;

interface Settings {
  duration: number;
  secrets: number;
  postgresUrl: string | undefined;
  only: string | undefined;
}

function settings(): Settings {
  const { values } = parseArgs({
    options: {
      duration: { type: "string" },
      secrets: { type: "string" },
      postgres: { type: "boolean" },
      "postgres-url": { type: "string" },
      only: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const duration = Number(values.duration ?? process.env.BENCH_DURATION ?? 10);
  if (!Number.isFinite(duration) || duration <= 0) throw new Error(`--duration takes a positive number of seconds, not '${values.duration}'`);
  const secrets = Number(values.secrets ?? 10_000);
  if (!Number.isInteger(secrets) || secrets < 1) throw new Error(`--secrets takes a positive whole number, not '${values.secrets}'`);
  const postgresUrl = values.postgres || values["postgres-url"] ? (values["postgres-url"] ?? process.env.BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES) : undefined;
  const only = values.only;
  if (only !== undefined && !SCENARIOS.some((scenario) => scenario.title === only)) {
    throw new Error(`--only takes a scenario's title: ${TITLES}`);
  }
  return { duration, secrets, postgresUrl, only };
}

/** A fresh database on the server of `url`, dropped by the returned function. */
async function freshDatabase(url: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `coffer_bench_${randomBytes(6).toString("hex")}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  const fresh = new URL(url);
  fresh.pathname = `/${name}`;
  return { url: fresh.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

async function seedMember(env: Pick<BenchEnv, "api" | "coffer">): Promise<string> {
  const password = randomBytes(16).toString("base64url");
  await env.api("POST", "/api/v1/users", { username: MEMBER, password });
  await env.api("PUT", `/api/v1/workspaces/default/members/${MEMBER}`, { role: "member" });
  await env.api("POST", "/api/v1/workspaces/default/groups", { name: "bench-readers" });
  await env.api("PUT", `/api/v1/workspaces/default/groups/bench-readers/members/user:${MEMBER}`);
  await env.api("PUT", `/api/v1/workspaces/default/secrets/${READ_SECRET}/grants/group:bench-readers`, { level: "read" });
  const response = await fetch(new URL("/api/v1/auth/login", env.coffer.url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: MEMBER, password }),
  });
  if (!response.ok) throw new Error(`login as ${MEMBER}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

function printTable(rows: Row[]): void {
  const header = ["scenario", "Coffer", "bare", "share", "goal", ""];
  const lines = rows.map((row) => [row.scenario, row.coffer, row.bare, row.share === undefined ? "" : `${row.share.toFixed(1)}%`, row.goal, row.met === undefined ? "" : row.met ? "✓" : "✗"]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ").trimEnd();
  console.log();
  console.log(format(header));
  console.log(widths.map((width) => "-".repeat(width)).join("-|-"));
  for (const line of lines) console.log(format(line));
  console.log();
}

function saveResults(settings: Settings, store: string, rows: Row[]): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const time = new Date().toISOString();
  const file = join(RESULTS_DIR, `${time.replace(/[:.]/g, "-")}.json`);
  const { postgresUrl: _, ...flags } = settings;
  writeFileSync(file, JSON.stringify({ time, node: process.version, connections: CONNECTIONS, store, ...flags, rows }, null, 2) + "\n");
  return file;
}

async function main(): Promise<void> {
  const options = settings();
  const store = options.postgresUrl ? "PostgreSQL" : "SQLite";
  const dataDir = await mkdtemp(join(tmpdir(), "coffer-bench-"));
  // The embedded store serves one server (store-lock.ts): there the unaudited one gets a copy of it, once seeded.
  const unauditedDir = await mkdtemp(join(tmpdir(), "coffer-bench-unaudited-"));
  const database = options.postgresUrl ? await freshDatabase(options.postgresUrl) : undefined;
  cleanup = () => [dataDir, unauditedDir].forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  const children: Child[] = [];
  try {
    if (process.env.COFFER_REDIS_URL) process.env.COFFER_REDIS_PREFIX ??= `coffer-bench-${randomBytes(6).toString("hex")}:`;
    process.stdout.write(`seeding ${options.secrets} secrets on ${store} ... `);
    const seedStarted = performance.now();
    const seeded = await seedStore({ dataDir, databaseUrl: database?.url, secrets: options.secrets });
    console.log(`${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
    // The unaudited server starts first and, once listening, writes Node's compile cache: the measured
    // one then starts as every start after an install's first does (scenarios/memory.ts says why it matters).
    if (!database) await cp(dataDir, unauditedDir, { recursive: true });
    const unaudited = await startChild("coffer server --audit off", serverArgs(database ? dataDir : unauditedDir, database?.url, ["--audit", "off"]));
    children.push(unaudited);
    const coffer = await startChild("coffer server", serverArgs(dataDir, database?.url));
    children.push(coffer);
    const bare = await startBare();
    children.push(bare);
    const api = (method: string, path: string, body?: unknown, baseUrl = coffer.url) => callApi(baseUrl, seeded.token, method, path, body);
    for (const node of [coffer, unaudited]) {
      await api("PATCH", "/api/v1/workspaces/default", { rateLimits: { readsPerSecond: BENCH_RATE_LIMIT, writesPerSecond: BENCH_RATE_LIMIT } }, node.url);
    }
    const memberToken = await seedMember({ api, coffer });
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
    const env: BenchEnv = {
      ...options,
      ...seeded,
      store,
      dataDir,
      databaseUrl: database?.url,
      coffer,
      unaudited,
      bare,
      memberToken,
      idleRssMiB: rssMiB(coffer.pid),
      api,
    };
    console.log(`Node ${process.version}, ${CONNECTIONS} connections, ${store}, ${options.duration} s a side (A B B A)`);
    const rows: Row[] = [];
    for (const scenario of SCENARIOS) if (options.only === undefined || scenario.title === options.only) rows.push(...(await scenario.run(env)));
    printTable(rows);
    console.log(`figures saved to ${saveResults(options, store, rows)}`);
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await Promise.all([dataDir, unauditedDir].map((dir) => rm(dir, { recursive: true, force: true })));
    await database?.drop();
  }
}

// On Ctrl-C or kill, main's finally never runs: stop the servers here instead.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of running) child.kill("SIGTERM");
    cleanup?.();
    process.exit(130);
  });
}

try {
  // `--nodes N`: the several-nodes scenario (bench/nodes.ts) instead of the table above.
  if (process.argv.includes("--nodes")) await (await import("./nodes.ts")).run(process.argv.slice(2));
  else await main();
} catch (error) {
  const badOption = (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? " (npm run bench -- --help lists the options)" : "";
  console.error(`\nbench failed: ${error instanceof Error ? error.message : String(error)}${badOption}`);
  process.exitCode = 1;
}
