import { Coffer } from "@coffer/sdk";
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { openCoffer } from "../../server/src/coffer.ts";
import { DAY_MS } from "../../server/src/core/clock.ts";
import { buildApp } from "../../server/src/http/app.ts";
import { ok, run, tempDir, type RunOptions } from "./support/cli.ts";
import { TEST_RATE_LIMITS } from "../../server/test/support/limits.ts";

test("coffer secrets due: due and overdue secrets of a workspace, as a table or JSON, through the real CLI", async (t) => {
  // A server in this process, on a simulated clock the test moves forward.
  let offset = 0;
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: tempDir(), clock: () => Date.now() + offset, rotationJobEveryMs: 0 });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const addr = await app.listen({ host: "127.0.0.1", port: 0 });
  const token = coffer.bootstrapToken!;
  const env = { COFFER_ADDR: addr, COFFER_TOKEN: token, COFFER_CONFIG_DIR: join(tempDir(), "config") };
  const cli = (args: string[], options: RunOptions = {}) => run(args, { ...options, env: { ...env, ...options.env } });

  const sdk = new Coffer({ addr, token });
  ok(await cli(["secrets", "set", "db", "password=-", "--rotate-every", "30"], { input: "pw-in-db\n" }));
  await sdk.secrets.create("fresh", { v: "fresh-value" }, { rotationIntervalDays: 365 });
  await sdk.secrets.create("no-interval", { v: "x" });
  ok(await cli(["secrets", "set", "signer", "--type", "HMAC", "--rotate-every", "10", "--auto-rotate"]));
  assert.equal((await cli(["secrets", "set", "plain", "--rotate-every", "0"], { input: "v\n" })).code, 2);
  assert.equal((await cli(["secrets", "set", "plain", "--auto-rotate"], { input: "v\n" })).code, 2, "INVALID_SECRET_TYPE: only generated types rotate themselves");
  const ops = await fetch(`${addr}/api/v1/workspaces`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "ops" }) });
  assert.equal(ops.status, 201);
  await new Coffer({ addr, token, workspace: "ops" }).secrets.create("old-key", { v: "ops-value" }, { rotationIntervalDays: 1 });

  assert.match(ok(await cli(["secrets", "due"])).stdout, /nothing due for rotation in workspace 'default'/);

  offset += 24 * DAY_MS;
  const table = ok(await cli(["secrets", "due"])).stdout;
  const rows = table.trim().split("\n");
  assert.match(rows[0]!, /^NAME\s+STATUS\s+DUE\s+INTERVAL\s+ROTATED\s+AUTO$/);
  assert.match(rows[1]!, /^db\s+due\s+\S+ \S+\s+30d\s+/);
  assert.match(rows[2]!, /^signer\s+overdue\s+.*10d.*auto$/);
  assert.equal(rows.length, 3, table);
  assert.ok(!table.includes("pw-in-db"), "never values");

  const listed = JSON.parse(ok(await cli(["secrets", "due", "--json"])).stdout) as { name: string; rotation: { status: string; intervalDays: number } }[];
  assert.deepEqual(listed.map((s) => [s.name, s.rotation.status, s.rotation.intervalDays]), [["db", "due", 30], ["signer", "overdue", 10]]);

  const other = JSON.parse(ok(await cli(["secrets", "due", "--workspace", "ops", "--json"])).stdout) as { name: string }[];
  assert.deepEqual(other.map((s) => s.name), ["old-key"]);

  // A new value is a rotation: db leaves the list.
  ok(await cli(["secrets", "set", "db", "password=-"], { input: "pw-rotated\n" }));
  assert.deepEqual(JSON.parse(ok(await cli(["secrets", "due", "--json"])).stdout).map((s: { name: string }) => s.name), ["signer"]);

  assert.match(ok(await cli(["secrets", "due", "--help"])).stdout, /Usage: coffer secrets due/);
  const stray = await cli(["secrets", "due", "extra"]);
  assert.equal(stray.code, 2);
});
