/** The web UI's static routes: index.html under a strict CSP at / and at client routes, never over the API. */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { tempDir } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

async function appWith(t: TestContext, webRoot: string) {
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: tempDir() });
  t.after(() => coffer.close());
  const app = await buildApp(coffer, { webRoot });
  t.after(() => app.close());
  return app;
}

test("the built UI is served at / and at client routes with a strict CSP; the API prefixes stay JSON", async (t) => {
  const root = tempDir("web");
  mkdirSync(join(root, "assets"));
  writeFileSync(join(root, "index.html"), "<!doctype html><title>Coffer</title><script type=module src=/assets/app.js></script>");
  writeFileSync(join(root, "assets/app.js"), "console.log(1)");
  writeFileSync(join(root, "favicon.svg"), "<svg/>");
  const app = await appWith(t, root);

  for (const url of ["/", "/secrets", "/secrets/shared/payments%2Fstripe", "/admin/members?x=1"]) {
    const reply = await app.inject({ url });
    assert.equal(reply.statusCode, 200, url);
    assert.match(reply.headers["content-type"] as string, /^text\/html/);
    assert.match(reply.body, /<title>Coffer<\/title>/);
    const csp = reply.headers["content-security-policy"] as string;
    for (const directive of ["script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]) assert.ok(csp.includes(directive), `${url}: ${directive}`);
    assert.ok(!csp.includes("unsafe-inline"));
    assert.equal(reply.headers["x-content-type-options"], "nosniff");
    assert.equal(reply.headers["referrer-policy"], "no-referrer");
  }
  const asset = await app.inject({ url: "/assets/app.js" });
  assert.equal(asset.statusCode, 200);
  assert.match(asset.headers["content-type"] as string, /javascript/);
  assert.match(asset.headers["cache-control"] as string, /immutable/);
  assert.equal((await app.inject({ url: "/favicon.svg" })).statusCode, 200);
  assert.equal((await app.inject({ url: "/assets/missing.js" })).statusCode, 404);
  assert.equal((await app.inject({ url: "/assets/..%2findex.html" })).statusCode, 404);
  // Only flat names under assets/: no way up, no dotfile, no directory.
  writeFileSync(join(root, "secret.txt"), "not for the web");
  writeFileSync(join(root, "assets/.env"), "not for the web");
  mkdirSync(join(root, "assets/sub"));
  writeFileSync(join(root, "assets/sub/x.js"), "1");
  for (const url of ["/assets/../secret.txt", "/assets/%2e%2e/secret.txt", "/assets/x/..%2f..%2fsecret.txt", "/assets/.env", "/assets/sub", "/assets/sub/x.js", "/assets//app.js"]) {
    const reply = await app.inject({ url });
    assert.ok(reply.statusCode === 404 || /<title>Coffer/.test(reply.body), url);
    assert.doesNotMatch(reply.body, /not for the web/, url);
  }
  // The UI's files are cached by validators: an unchanged file is a 304.
  const etag = asset.headers.etag as string;
  assert.ok(etag);
  assert.equal((await app.inject({ url: "/assets/app.js", headers: { "if-none-match": etag } })).statusCode, 304);
  const head = await app.inject({ method: "HEAD", url: "/assets/app.js" });
  assert.equal(head.statusCode, 200);
  assert.equal(head.body, "");
  assert.equal((await app.inject({ url: "/" })).headers["cache-control"], "no-cache");

  // Unknown paths under the API prefixes are each API's own 404, never the page.
  const missing = async (url: string) => {
    const reply = await app.inject({ url });
    assert.equal(reply.statusCode, 404, url);
    return reply.json();
  };
  assert.equal((await missing("/api/v1/nope")).error.code, "NOT_FOUND");
  assert.ok(Array.isArray((await missing("/v1/sys/nope")).errors), "Vault's error shape");
  assert.ok(Array.isArray((await missing("/v1/secret/x")).warnings), "Vault's answer to a KV v2 path without data/: a warning");
  assert.equal((await missing("/vellum/v1/x")).code, "NOT_FOUND");
  // The API itself is untouched: still authenticated, still JSON.
  assert.equal((await app.inject({ url: "/api/v1/workspaces" })).json().error.code, "UNAUTHENTICATED");
  const doc = (await app.inject({ url: "/api/v1/openapi.json" })).json() as { paths: Record<string, unknown> };
  assert.deepEqual(Object.keys(doc.paths).filter((path) => !path.startsWith("/api/v1/")), ["/mcp"], "static routes stay out of the OpenAPI document; the MCP endpoint is API");
});

test("without a build, / says how to build the UI", async (t) => {
  const app = await appWith(t, tempDir("empty-web"));
  const reply = await app.inject({ url: "/secrets" });
  assert.equal(reply.statusCode, 503);
  assert.match(reply.body, /npm run build:web/);
});
