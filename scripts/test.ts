/**
 * `npm test`: type-check, build the web UI if it is stale, then every test file under node:test. In CI
 * (CI=true) PostgreSQL is required; elsewhere tests that need it are skipped
 * and the summary says so.
 */
import { spawnSync } from "node:child_process";
import { buildWeb } from "./build-web.ts";

function run(label: string, command: string, args: string[]): void {
  process.stdout.write(`\n== ${label}\n`);
  const result = spawnSync(command, args, { stdio: "inherit" });
  if (result.status !== 0) {
    process.stderr.write(`\n${label} failed\n`);
    process.exit(result.status ?? 1);
  }
}

const filters = process.argv.slice(2);
run("type-check (tsc)", process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"]);
run("type-check the web UI (tsc)", process.execPath, ["node_modules/typescript/bin/tsc", "-p", "packages/web/tsconfig.json"]);
// The UI tests drive the built UI, and the server serves it.
buildWeb();
run("tests (node:test)", process.execPath, [
  "--test",
  "--test-concurrency=2",
  "--test-timeout=300000",
  ...(filters.length ? filters : ["packages/*/test/**/*.test.ts"]),
]);
