/**
 * `npm install` on a machine whose Node is older than 24: npm prints no
 * screen of EBADENGINE warnings (.npmrc), and prepare says once what
 * happened (scripts/node-notice.ts). The dry run uses the machine's own older
 * Node and npm when there are some; a full `npm ci` from a clean clone takes
 * too long for the suite and is described in docs/operations.md.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { notice, npmNodeVersion } from "../../../scripts/node-notice.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

test("the install note speaks only when npm runs on a Node older than 24, and says what was provisioned", () => {
  assert.equal(npmNodeVersion("npm/11.19.1 node/v20.20.2 linux x64 workspaces/false"), "v20.20.2");
  assert.equal(npmNodeVersion(undefined), null);
  assert.equal(notice("v24.21.0", "v24.21.0"), null);
  assert.equal(notice("v25.0.0", "v25.0.0"), null);
  assert.equal(notice(null, "v24.21.0"), null, "not run by npm: nothing to explain");
  const text = notice("v20.20.2", "v24.21.0")!;
  assert.match(text, /npm runs on Node v20\.20\.2 here and Coffer needs Node 24, so npm installed Node v24\.21\.0 from the npm registry into node_modules\/node/);
  assert.equal(text.split("\n").length, 1, "one paragraph, said once");
});

test("npm on the machine's older Node resolves the install without EBADENGINE warnings", (t) => {
  const oldNode = spawnSync("/usr/bin/node", ["--version"], { encoding: "utf8" });
  const major = Number(/^v(\d+)/.exec(oldNode.stdout ?? "")?.[1]);
  if (oldNode.status !== 0 || !(major < 24) || spawnSync("/usr/bin/npm", ["--version"]).status !== 0) {
    t.skip("no Node older than 24 with npm at /usr/bin on this machine");
    return;
  }
  // A newcomer's shell: PATH without node_modules/.bin (npm itself on the old Node), none of the npm_* settings an
  // enclosing `npm test` passes down. --dry-run changes nothing.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_")));
  env.PATH = "/usr/bin:/bin";
  const dry = spawnSync("/usr/bin/npm", ["install", "--dry-run", "--no-audit", "--no-fund"], { cwd: ROOT, encoding: "utf8", env, timeout: 180_000 });
  assert.equal(dry.status, 0, dry.stderr);
  assert.doesNotMatch(dry.stdout + dry.stderr, /EBADENGINE|Unsupported engine/);
  // The same command with npm's default log level shows what .npmrc hides: the test can fail.
  const loud = spawnSync("/usr/bin/npm", ["install", "--dry-run", "--no-audit", "--no-fund", "--loglevel=warn"], { cwd: ROOT, encoding: "utf8", env, timeout: 180_000 });
  assert.match(loud.stderr, /EBADENGINE/);
});
