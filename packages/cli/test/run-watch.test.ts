/**
 * `coffer run --watch`: a real child records the environment it was started
 * with; the test changes the secrets through the CLI and waits for the child
 * to be stopped and started again with the new values.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { cleanEnv, COFFER_BIN, fixture, ok, tempDir, type Fixture } from "./support/cli.ts";

/** Appends one JSON line per start ({pid, key, db}) and per SIGTERM ({term: pid}) to the file it is given. */
const RECORDER = `
const fs = require("node:fs");
const file = process.argv[1];
const note = (entry) => fs.appendFileSync(file, JSON.stringify(entry) + "\\n");
note({ pid: process.pid, key: process.env.API_KEY, db: process.env.DATABASE_CONFIG_PASSWORD });
process.on("SIGTERM", () => {
  note({ term: process.pid });
  if (!process.env.IGNORE_SIGTERM) process.exit(0);
});
setInterval(() => {}, 1000);
`;

interface Entry {
  pid?: number;
  key?: string;
  db?: string;
  term?: number;
}

function entries(file: string): Entry[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Entry);
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `coffer run --watch … -- node RECORDER file` in the background, through `addr`. */
function watch(t: TestContext, f: Fixture, args: string[], file: string, env: Record<string, string> = {}) {
  writeFileSync(file, "");
  const child = spawn(process.execPath, [COFFER_BIN, "run", "--watch", ...args, "--", process.execPath, "-e", RECORDER, file], {
    env: cleanEnv({ ...f.admin, ...env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const entry of entries(file)) if (entry.pid) killQuietly(entry.pid);
  });
  return { child, exited, stderr: () => stderr };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("run --watch restarts the command with the new values when a secret it uses gets a new version", async (t) => {
  const f = await fixture(t);
  ok(await f.coffer(["secrets", "set", "API_KEY"], { input: "key-v1\n" }));
  ok(await f.coffer(["secrets", "set", "database-config", "host=-", "password=-"], { input: "db.internal\ndb-v1\n" }));
  ok(await f.coffer(["secrets", "set", "unrelated"], { input: "x\n" }));

  // A proxy in front of the server counts the polls.
  const seen: string[] = [];
  const target = new URL(f.server.url);
  const proxy = createServer((incoming, answer) => {
    seen.push(`${incoming.method} ${incoming.url}`);
    const forwarded = request({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (response) => {
      answer.writeHead(response.statusCode!, response.headers);
      response.pipe(answer);
    });
    incoming.pipe(forwarded);
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  t.after(() => proxy.close());
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  const file = join(tempDir(), "starts.jsonl");
  const run = watch(t, f, ["--watch-interval", "1", "--secret", "API_KEY", "--secret", "database-config"], file, { COFFER_ADDR: proxyUrl });
  const first = await until("the first start", () => entries(file).find((e) => e.pid));
  assert.deepEqual({ key: first.key, db: first.db }, { key: "key-v1", db: "db-v1" });

  // Polls are bounded: two secrets, one metadata read each per second; no values in them.
  const before = seen.length;
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const polls = seen.slice(before);
  assert.ok(polls.length >= 2 && polls.length <= 10, `polls in 3 s: ${polls.join(", ")}`);
  assert.ok(polls.every((line) => /^GET \/api\/v1\/workspaces\/default\/secrets\/(API_KEY|database-config)\/metadata\?scope=shared$/.test(line)), polls.join("\n"));

  // A change to a secret the command does not use restarts nothing.
  ok(await f.coffer(["secrets", "set", "unrelated"], { input: "y\n" }));
  ok(await f.coffer(["secrets", "set", "API_KEY"], { input: "key-v2\n" }));
  const second = await until("a start with the new key", () => entries(file).find((e) => e.pid && e.key === "key-v2"));
  assert.notEqual(second.pid, first.pid);
  assert.equal(second.db, "db-v1");
  assert.ok(entries(file).some((e) => e.term === first.pid), "the old command got SIGTERM");
  assert.ok(!alive(first.pid!), "the old command is gone");
  assert.match(run.stderr(), /coffer: API_KEY \(version 1 → 2\): restarting /);
  assert.doesNotMatch(run.stderr(), /key-v/, "no value in coffer's messages");

  // A key/value secret, then a rollback: each new version restarts it.
  ok(await f.coffer(["secrets", "set", "database-config", "host=-", "password=-"], { input: "db.internal\ndb-v2\n" }));
  const third = await until("a start with the new password", () => entries(file).find((e) => e.pid && e.db === "db-v2"));
  assert.equal(third.key, "key-v2");
  ok(await f.coffer(["secrets", "rollback", "API_KEY", "1"]));
  const fourth = await until("a start after the rollback", () => entries(file).filter((e) => e.pid).at(-1)?.key === "key-v1" ? entries(file).filter((e) => e.pid).at(-1) : undefined);
  assert.equal(fourth.db, "db-v2");
  assert.equal(entries(file).filter((e) => e.pid).length, 4, "one start per change, nothing for the unrelated secret");

  // SIGTERM to coffer reaches the command; coffer exits with its code and starts nothing more.
  run.child.kill("SIGTERM");
  const [code] = await run.exited;
  assert.equal(code, 0, run.stderr());
  assert.ok(entries(file).some((e) => e.term === fourth.pid));
  assert.equal(entries(file).filter((e) => e.pid).length, 4);
});

test("run --watch kills a command that ignores SIGTERM after the grace period, and exits when the command exits by itself", async (t) => {
  const f = await fixture(t);
  ok(await f.coffer(["secrets", "set", "API_KEY"], { input: "stubborn-v1\n" }));
  const file = join(tempDir(), "starts.jsonl");
  const run = watch(t, f, ["--watch-interval", "1", "--watch-grace", "1", "--all"], file, { IGNORE_SIGTERM: "1" });
  const first = await until("the first start", () => entries(file).find((e) => e.pid));
  assert.equal(first.key, "stubborn-v1");
  ok(await f.coffer(["secrets", "set", "API_KEY"], { input: "stubborn-v2\n" }));
  const second = await until("a start with the new key", () => entries(file).find((e) => e.pid && e.key === "stubborn-v2"));
  assert.ok(entries(file).some((e) => e.term === first.pid), "SIGTERM first");
  assert.ok(!alive(first.pid!), "then SIGKILL, after the grace period");
  assert.match(run.stderr(), /API_KEY \(version 1 → 2\)/);

  // With --all, a new secret is a change too.
  ok(await f.coffer(["secrets", "set", "ADDED"], { input: "a\n" }));
  const third = await until("a start after a secret was added", () => entries(file).filter((e) => e.pid).at(2));
  assert.match(run.stderr(), /ADDED \(added\)/);

  process.kill(third.pid!, "SIGKILL");
  const [code] = await run.exited;
  assert.equal(code, 128 + 9, "coffer exits with the command, as 128 + SIGKILL");
});

test("run --watch options are checked", async (t) => {
  const f = await fixture(t);
  for (const [args, message] of [
    [["--watch", "--watch-interval", "0"], /--watch-interval takes seconds from 1 to 86400 \(got '0'\)/],
    [["--watch", "--watch-grace", "soon"], /--watch-grace takes seconds from 0 to 86400 \(got 'soon'\)/],
    [["--watch-interval", "5"], /--watch-interval and --watch-grace go with --watch/],
  ] as const) {
    const result = await f.coffer(["run", ...args, "--secret", "A", "--", "true"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, message);
  }
  const help = ok(await f.coffer(["run", "--help"]));
  assert.match(help.stdout, /--watch-interval S/);
  assert.match(help.stdout, /SIGTERM, waits up to\n--watch-grace seconds, then SIGKILL/);
});
