/** Runs a Python unittest module as a child process, for the Python client suites. */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";

export interface UnittestRun {
  /** The exit code, or the signal that ended it. */
  exit: number | NodeJS.Signals | null;
  output: string;
}

export async function runUnittest(python: string, module: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<UnittestRun> {
  const child = spawn(python, ["-m", "unittest", "-v", module], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { exit: code ?? signal, output };
}

export const PYTHON = process.env.COFFER_TEST_PYTHON ?? "python3";

/** null when the interpreter runs; otherwise why not. Throws in CI, where it is required. */
export function pythonUnavailable(): string | null {
  const probe = spawnSync(PYTHON, ["-c", "import sys; assert sys.version_info >= (3, 9), sys.version"], { encoding: "utf8", timeout: 30_000 });
  if (probe.status === 0) return null;
  const reason = probe.error
    ? `${PYTHON} is not available (${probe.error.message})`
    : `${PYTHON} is not Python 3.9 or newer (${(probe.stderr || probe.stdout).trim()})`;
  if (process.env.CI === "true") throw new Error(`${reason}; CI requires it`);
  return reason;
}
