/** The real `coffer` CLI as a child process against a server, with a token and none of the machine's COFFER_* settings or config. */
import { spawn } from "node:child_process";
import { COFFER_BIN } from "./server.ts";

export function runCli(args: string[], addr: string, token: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("COFFER_") && value !== undefined) env[key] = value;
    const child = spawn(process.execPath, [COFFER_BIN, ...args], {
      env: { ...env, COFFER_ADDR: addr, COFFER_TOKEN: token, COFFER_CONFIG_DIR: "/nonexistent-coffer-config" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
