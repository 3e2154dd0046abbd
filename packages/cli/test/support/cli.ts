/**
 * Drives the real `coffer` CLI as a child process: through pipes, or on a
 * pseudo-terminal (python3's pty module) where a test types at the prompts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { COFFER_BIN, startServer, type RunningServer } from "../../../server/test/support/server.ts";
import { STORES, tempDir as storeTempDir } from "../../../server/test/support/stores.ts";

export { COFFER_BIN };

const PTY_DRIVE = fileURLToPath(new URL("./pty_drive.py", import.meta.url));

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed; without it stdin is an empty pipe. */
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  /** Called once the process started (to signal it, for instance). */
  started?: (child: ChildProcess) => void;
}

/**
 * The environment every CLI run gets: none of the caller's COFFER_* settings,
 * a config directory of the test's own.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("COFFER_") && value !== undefined) env[key] = value;
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

export function run(args: string[], options: RunOptions = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [COFFER_BIN, ...args], { env: cleanEnv(options.env), cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`coffer ${args.join(" ")} did not finish within ${options.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    options.started?.(child);
  });
}

export interface PtyStep {
  /** A regular expression the output must match (after the previous step's match). */
  expect: string;
  send: string;
}

/** Runs coffer on a pseudo-terminal, answering prompts; stdout and stderr arrive mixed, as on a screen. */
export function runPty(args: string[], steps: PtyStep[], env: Record<string, string | undefined> = {}): Promise<{ output: string; status: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", [PTY_DRIVE, JSON.stringify(steps), process.execPath, COFFER_BIN, ...args], { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`pty driver failed (${code}): ${stderr}`));
      resolve(JSON.parse(stdout) as { output: string; status: number });
    });
  });
}

/** stores.ts's tempDir, named for the CLI's tests. */
export function tempDir(label = "coffer-cli"): string {
  return storeTempDir(label);
}

export interface Fixture {
  server: RunningServer;
  /** The bootstrap administrator's environment: address, token, a private config dir. */
  admin: Record<string, string>;
  /** A CLI run as the administrator. */
  coffer(args: string[], options?: RunOptions): Promise<Result>;
}

/** A fresh server on SQLite (the CLI's behaviour does not depend on the store) and an admin environment for it. */
export async function fixture(t: TestContext): Promise<Fixture> {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const admin = { COFFER_ADDR: server.url, COFFER_TOKEN: server.token!, COFFER_CONFIG_DIR: join(tempDir(), "config") };
  return {
    server,
    admin,
    coffer: (args, options = {}) => run(args, { ...options, env: { ...admin, ...options.env } }),
  };
}

/** A user who is a member of the default workspace, with a password to log in with. */
export async function createMember(f: Fixture, username: string, password: string, role = "member"): Promise<void> {
  const created = await f.coffer(["users", "create", username], { input: password + "\n" });
  if (created.code !== 0) throw new Error(`users create ${username}: ${created.stderr}`);
  const member = await f.coffer(["members", "set", username, role]);
  if (member.code !== 0) throw new Error(`members set ${username}: ${member.stderr}`);
}

/** Fails with the command's output when it did not exit 0. */
export function ok(result: Result): Result {
  if (result.code !== 0) throw new Error(`exit ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}
