/**
 * A real `coffer server` child process on a free port of 127.0.0.1, stopped
 * by the test that started it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { TestContext } from "node:test";
import { TEST_RATE_LIMITS_ENV } from "./limits.ts";
import type { StoreTarget } from "./stores.ts";

export const COFFER_BIN = fileURLToPath(new URL("../../../cli/bin/coffer.js", import.meta.url));

export interface RunningServer {
  url: string;
  /** The bootstrap token, when this start initialised the store. */
  token: string | null;
  process: ChildProcess;
  /** Everything the process printed so far, stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** `env` may set COFFER_RATE_LIMITS (otherwise the limits are raised, see limits.ts) and COFFER_LISTEN (a fixed port; default a free one). */
export async function startServer(t: TestContext | null, target: StoreTarget, env: Record<string, string> = {}): Promise<RunningServer> {
  const args = [COFFER_BIN, "server", ...(env.COFFER_LISTEN ? [] : ["--listen", "127.0.0.1:0"]), "--data-dir", target.dataDir];
  if (target.databaseUrl) args.push("--database-url", target.databaseUrl);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, COFFER_RATE_LIMITS: TEST_RATE_LIMITS_ENV, ...env } });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const exited = once(child, "exit");
  // Registered before waiting, so a server that starts after its test failed is still stopped.
  t?.after(() => (child.exitCode === null && child.signalCode === null ? child.kill("SIGKILL") : undefined));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 60 s:\n${output}`)), 60_000);
    const check = () => {
      const match = /Listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  const token = /^\s+(cft_\w+)$/m.exec(output)?.[1] ?? null;
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
  };
  const server: RunningServer = {
    url,
    token,
    process: child,
    output: () => output,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
  };
  return server;
}
