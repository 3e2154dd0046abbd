/** Runs a Python unittest module as a child process, for the Python client suites. */
import { spawn } from "node:child_process";
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
