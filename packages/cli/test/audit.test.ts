import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fixture, ok, tempDir } from "./support/cli.ts";

test("audit list, tail, export and verify through the real CLI", async (t) => {
  const f = await fixture(t);
  ok(await f.coffer(["secrets", "set", "STRIPE_KEY"], { input: "sk-live-audit-value\n" }));
  ok(await f.coffer(["secrets", "get", "STRIPE_KEY"]));
  assert.equal((await f.coffer(["secrets", "get", "MISSING"])).code, 5);

  const listed = ok(await f.coffer(["audit", "list", "--secret", "STRIPE_KEY", "--since", "1h"]));
  assert.match(listed.stdout, /^TIME \(UTC\)\s+OUTCOME\s+ACTOR\s+ACTION\s+TARGET\s+FROM$/m);
  assert.match(listed.stdout, /ok\s+admin\s+secret\.read\s+STRIPE_KEY\s+127\.0\.0\.1/);
  assert.match(listed.stdout, /ok\s+admin\s+secret\.(create|update)\s+STRIPE_KEY/);
  const denied = JSON.parse(ok(await f.coffer(["audit", "list", "--outcome", "not_found", "--json"])).stdout);
  assert.ok(denied.some((e: { secretName?: string }) => e.secretName === "MISSING"));

  // tail prints the latest events, then follows new ones.
  let output = "";
  const tailing = f.coffer(["audit", "tail", "--lines", "2", "--json"], {
    timeoutMs: 20_000,
    started: (child) => {
      child.stdout!.on("data", (chunk) => {
        output += chunk;
        if (output.includes("FOLLOWED")) child.kill("SIGINT");
      });
      setTimeout(() => void f.coffer(["secrets", "get", "FOLLOWED"]), 1500);
    },
  });
  await tailing;
  const tailed = output.trim().split("\n").map((line) => JSON.parse(line));
  assert.ok(tailed.length >= 3);
  assert.equal(tailed.at(-1).secretName, "FOLLOWED");

  const file = join(tempDir(), "audit.jsonl");
  const exported = ok(await f.coffer(["audit", "export", "--action", "secret.*", file]));
  assert.match(exported.stderr, /\d+ events exported to /);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const lines = readFileSync(file, "utf8").trim().split("\n").map((line) => JSON.parse(line));
  assert.ok(lines.every((e) => e.action.startsWith("secret.")));
  assert.ok(lines.every((e, i) => i === 0 || e.seq > lines[i - 1].seq), "oldest first");
  assert.ok(!readFileSync(file, "utf8").includes("sk-live-audit-value"), "no value in the export");
  assert.equal((await f.coffer(["audit", "export", file])).code, 2, "never overwrites");

  assert.match(ok(await f.coffer(["audit", "verify"])).stdout, /The audit log is intact: \d+ events checked\./);
  const bad = await f.coffer(["audit", "list", "--since", "yesterday"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--since takes a duration such as 30m/);
});
