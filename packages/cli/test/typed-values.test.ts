import assert from "node:assert/strict";
import { test } from "node:test";
import { fixture, ok } from "./support/cli.ts";

test("coffer run and inject render values written through the Vault API with another JSON type as JSON text", async (t) => {
  const f = await fixture(t);
  const data = { count: 7, enabled: true, sa: { type: "service_account", scopes: ["a", "b"] }, name: "plain" };
  const written = await fetch(`${f.server.url}/v1/secret/data/cfg`, { method: "POST", headers: { "x-vault-token": f.admin.COFFER_TOKEN! }, body: JSON.stringify({ data }) });
  assert.equal(written.status, 200);

  const printer = `console.log([process.env.CFG_COUNT, process.env.CFG_ENABLED, process.env.CFG_SA, process.env.CFG_NAME].join("|"))`;
  // --no-mask: this test is about the rendering, not the masking run.test.ts covers.
  const run = ok(await f.coffer(["run", "--no-mask", "--secret", "cfg", "--", process.execPath, "-e", printer]));
  assert.equal(run.stdout.trim(), `7|true|${JSON.stringify(data.sa)}|plain`);

  const injected = ok(await f.coffer(["inject", "-i", "-"], { input: "C=@{vault.cfg.count} S=@{vault.cfg.sa} N=@{vault.cfg.name}" }));
  assert.equal(injected.stdout, `C=7 S=${JSON.stringify(data.sa)} N=plain`);
});
