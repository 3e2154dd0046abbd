/**
 * Builds the web UI (packages/web → packages/web/dist) when the build is
 * missing or older than its sources: run by `npm install` (prepare), `npm
 * start` and `npm test`, so the server always serves the UI of this checkout.
 * `--force` builds regardless.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WEB = join(ROOT, "packages/web");
const BUILT = join(WEB, "dist/index.html");
const SOURCES = ["packages/web/src", "packages/web/public", "packages/web/index.html", "packages/web/vite.config.ts", "packages/web/package.json", "packages/sdk/src", "packages/protocol/src"];

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

export function webIsStale(): boolean {
  if (!existsSync(BUILT)) return true;
  const built = statSync(BUILT).mtimeMs;
  return SOURCES.some((source) => existsSync(join(ROOT, source)) && newest(join(ROOT, source)) > built);
}

export function buildWeb(force = false): void {
  if (!force && !webIsStale()) return;
  process.stdout.write("Building the web UI (packages/web)…\n");
  const vite = join(ROOT, "node_modules/vite/bin/vite.js");
  const result = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn"], { cwd: WEB, stdio: "inherit" });
  if (result.status !== 0) {
    process.stderr.write("The web UI failed to build.\n");
    process.exit(result.status ?? 1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) buildWeb(process.argv.includes("--force"));
