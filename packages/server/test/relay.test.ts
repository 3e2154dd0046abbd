/**
 * The relay end to end: a real server, real upstreams on 127.0.0.1 (allowed
 * by the policies through `addresses`), callers holding only `use`. What an
 * attacker would see — the agent's answers, the audit log through the API
 * and in the database, the server's log — never holds the value.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import pg from "pg";
import { client, must, secretsPath } from "./support/http.ts";
import { startServer, type RunningServer } from "./support/server.ts";

const { Client } = pg;
import { STORES } from "./support/stores.ts";
import { startUpstream, testCertificate, writeInPieces, type Upstream } from "./support/upstream.ts";

export const KEY = "sk-relay-TEST+/=value-0123456789abcdef";

/** Every form the redaction promises to catch. */
export function formsOf(value: string): string[] {
  const bytes = Buffer.from(value);
  return [value, bytes.toString("base64"), bytes.toString("base64url"), encodeURIComponent(value), bytes.toString("hex"), bytes.toString("hex").toUpperCase()];
}

export function assertNoValue(text: string, value: string, where: string): void {
  for (const form of formsOf(value)) assert.ok(!text.includes(form), `${where} holds the value (as ${form === value ? "plain text" : "an encoding"})`);
}

/** An upstream that echoes the Authorization header it got, in every form, in its headers and body; and other behaviours by path. */
function echoing(t: TestContext, tls?: { key: string; cert: string }): Promise<Upstream> {
  return startUpstream(
    t,
    (request, body, response) => {
      const url = new URL(request.url ?? "/", "http://x");
      const sent = String(request.headers.authorization ?? "").replace(/^Bearer /, "") || url.searchParams.get("key") || body.toString();
      const bytes = Buffer.from(sent);
      if (url.pathname === "/echo") {
        response.setHeader("x-echo", sent);
        response.setHeader("x-echo-b64", bytes.toString("base64"));
        response.setHeader("content-type", "application/json");
        response.end(
          JSON.stringify({
            plain: sent,
            base64: bytes.toString("base64"),
            base64url: bytes.toString("base64url"),
            urlEncoded: encodeURIComponent(sent),
            hex: bytes.toString("hex"),
            basic: Buffer.from(`user:${sent}`).toString("base64"),
          }),
        );
      } else if (url.pathname === "/stream") {
        response.writeHead(200, { "content-type": "text/event-stream" });
        // The value split across chunks, each a separate write some milliseconds apart.
        const text = `data: {"echo":"${sent}"}\n\ndata: ${bytes.toString("base64")}\n\ndata: [DONE]\n\n`;
        writeInPieces(response, text, 3);
      } else if (url.pathname === "/redirect") {
        response.writeHead(302, { location: url.searchParams.get("to") ?? "/echo" });
        response.end();
      } else if (url.pathname === "/slow") {
        // Never answers.
      } else if (url.pathname === "/big") {
        response.writeHead(200, { "content-type": "application/octet-stream" });
        const chunk = Buffer.alloc(1024 * 1024, 97);
        for (let n = 0; n < 11; n++) response.write(chunk);
        response.end();
      } else {
        response.writeHead(404);
        response.end("no such path");
      }
    },
    tls,
  );
}

interface Setup {
  server: RunningServer;
  admin: ReturnType<typeof client>;
  agent: ReturnType<typeof client>;
  agentToken: string;
  upstream: Upstream;
}

async function setUp(t: TestContext, env: Record<string, string> = {}, store = STORES[0]!): Promise<Setup | null> {
  const target = await store.open(t);
  if (!target) return null;
  const upstream = await echoing(t);
  const server = await startServer(t, target, env);
  t.after(() => server.stop());
  const admin = client(server.url, server.token);
  await must(admin("POST", secretsPath("default"), { name: "openai/api-key", data: { value: KEY } }), 201);
  await must(admin("POST", secretsPath("default"), { name: "two-keys", data: { id: "client-1", secret: KEY } }), 201);
  await must(admin("POST", "/api/v1/workspaces/default/service-accounts", { name: "agent" }), 201);
  await must(admin("PUT", `${secretsPath("default", "openai/api-key")}/grants/sa:agent`, { level: "use" }), 200);
  await must(admin("PUT", `${secretsPath("default", "two-keys")}/grants/sa:agent`, { level: "use" }), 200);
  const minted = await must(admin("POST", "/api/v1/workspaces/default/service-accounts/agent/tokens", { labels: { agent: "planner", session: "run-1" } }), 201);
  const policy = { hosts: ["127.0.0.1"], schemes: ["http"], ports: [upstream.port], methods: ["GET", "POST"], headers: ["Authorization"], query: ["key"], body: true, addresses: ["127.0.0.1"] };
  await must(admin("PATCH", `${secretsPath("default", "openai/api-key")}/metadata`, { relayPolicy: policy }), 200);
  await must(admin("PATCH", `${secretsPath("default", "two-keys")}/metadata`, { relayPolicy: { ...policy, headers: ["X-Key"], query: [], body: false } }), 200);
  return { server, admin, agent: client(server.url, minted.token), agentToken: minted.token, upstream };
}

const relayPath = "/api/v1/workspaces/default/relay";

test("a relay policy is set and shown through the metadata, checked, needs manage, and is audited as a change", async (t) => {
  const setup = await setUp(t);
  if (!setup) return;
  const { admin, agent } = setup;
  const path = `${secretsPath("default", "openai/api-key")}/metadata`;
  const shown = await admin("GET", path);
  assert.equal(shown.status, 200);
  assert.deepEqual(shown.body.relayPolicy.hosts, ["127.0.0.1"]);

  const defaults = await admin("PATCH", path, { relayPolicy: { hosts: ["API.example.com", "*.example.org"] } });
  assert.equal(defaults.status, 200, JSON.stringify(defaults.body));
  assert.deepEqual(defaults.body.relayPolicy, { hosts: ["api.example.com", "*.example.org"], schemes: ["https"], ports: [], methods: [], headers: [], query: [], body: false, addresses: [] });

  const invalid: [unknown, RegExp][] = [
    [{}, /hosts names at least one host/],
    [{ hosts: ["exa mple.com"] }, /not a host name/],
    [{ hosts: ["*"] }, /not a host name/],
    [{ hosts: ["a.com"], schemes: ["ftp"] }, /schemes lists 'https' and\/or 'http'/],
    [{ hosts: ["a.com"], ports: [70000] }, /port numbers/],
    [{ hosts: ["a.com"], methods: ["GET POST"] }, /not an HTTP method/],
    [{ hosts: ["a.com"], headers: ["Host"] }, /may not be placed in 'Host'/],
    [{ hosts: ["a.com"], addresses: ["not-an-ip"] }, /not an IP address or CIDR/],
    [{ hosts: ["a.com"], color: "red" }, /has no field 'color'/],
    ["a.com", /is an object/],
  ];
  for (const [relayPolicy, message] of invalid) {
    const reply = await admin("PATCH", path, { relayPolicy });
    assert.equal(reply.status, 400, JSON.stringify(relayPolicy));
    assert.equal(reply.body.error.code, "INVALID_REQUEST");
    assert.match(reply.body.error.message, message);
  }
  // `use` may not change where a value goes.
  const refused = await agent("PATCH", path, { relayPolicy: null });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "ACCESS_DENIED");

  assert.equal((await admin("PATCH", path, { relayPolicy: null })).status, 200);
  assert.equal((await admin("GET", path)).body.relayPolicy, null);
  const events = await admin("GET", "/api/v1/audit?workspace=default&action=secret.relay-policy");
  assert.equal(events.status, 200);
  assert.ok(events.body.events.filter((event: { outcome: string }) => event.outcome === "ok").length >= 3);
  const alerts = await admin("GET", "/api/v1/workspaces/default/alerts");
  if (alerts.status === 200) assert.ok(JSON.stringify(alerts.body).includes("secret.updated"));
});

test("a use-level agent relays a call: the upstream gets the value, the agent's answer, the audit and the log never hold it", async (t) => {
  const setup = await setUp(t);
  if (!setup) return;
  const { admin, agent, upstream, server } = setup;
  const reply = await agent(
    "POST",
    relayPath,
    { method: "POST", url: `${upstream.url}/echo?key=@{vault.openai/api-key}&x=1`, headers: { Authorization: "Bearer @{vault.openai/api-key}", "content-type": "text/plain" }, body: "key=@{vault.openai/api-key}" },
    { "x-coffer-tool": "web_search" },
  );
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(reply.body.status, 200);
  const got = upstream.received.at(-1)!;
  assert.equal(got.headers.authorization, `Bearer ${KEY}`);
  assert.equal(new URL(got.url, "http://x").searchParams.get("key"), KEY);
  assert.equal(got.body.toString(), `key=${KEY}`);

  const answer = JSON.stringify(reply.body) + JSON.stringify([...reply.headers]);
  assertNoValue(answer, KEY, "the agent's answer");
  const echoed = JSON.parse(reply.body.body);
  for (const field of ["plain", "base64", "base64url", "urlEncoded", "hex"]) assert.equal(echoed[field], "@{vault.openai/api-key}", field);
  assert.ok(!Buffer.from(echoed.basic, "base64").toString("latin1").includes(KEY.slice(3, -3)), "the value inside a longer base64 text is redacted");
  assert.equal(reply.body.headers["x-echo"], "@{vault.openai/api-key}");
  assert.equal(reply.body.headers["x-echo-b64"], "@{vault.openai/api-key}");

  // A key of a multi-key secret, named explicitly.
  const keyed = await agent("POST", relayPath, { method: "GET", url: `${upstream.url}/echo`, headers: { "X-Key": "@{vault.two-keys.secret}" } });
  assert.equal(keyed.status, 200, JSON.stringify(keyed.body));
  assert.equal(upstream.received.at(-1)!.headers["x-key"], KEY);
  assertNoValue(JSON.stringify(keyed.body), KEY, "the answer for a keyed placeholder");

  // Audit: one secret.relay event per secret, with host, method, status, sizes and attribution; never the value.
  const events = await admin("GET", "/api/v1/audit?workspace=default&action=secret.relay");
  assert.equal(events.status, 200);
  const first = events.body.events.find((event: { secretName: string; subject: string }) => event.secretName === "openai/api-key" && event.subject.includes("tool=web_search"));
  assert.ok(first, JSON.stringify(events.body.events));
  assert.match(first.subject, /via=api host=127\.0\.0\.1 method=POST upstream=200 sent=\d+ received=\d+ ms=\d+ agent=planner session=run-1 tool=web_search/);
  assert.equal(first.actor.name, "agent");
  assertNoValue(JSON.stringify(events.body), KEY, "the audit log (API)");
  const exported = await admin("GET", "/api/v1/audit/export?workspace=default");
  assertNoValue(typeof exported.body === "string" ? exported.body : JSON.stringify(exported.body), KEY, "the audit export");
  assertNoValue(server.output(), KEY, "the server's log");
});

test("a streamed answer passes through as a stream, redacted across chunk boundaries", async (t) => {
  const setup = await setUp(t);
  if (!setup) return;
  const { agent, server, upstream } = setup;
  const response = await fetch(server.url + relayPath, {
    method: "POST",
    headers: { authorization: `Bearer ${setup.agentToken}`, "content-type": "application/json" },
    body: JSON.stringify({ method: "GET", url: `${upstream.url}/stream`, headers: { Authorization: "Bearer @{vault.openai/api-key}" }, stream: true }),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-coffer-relay"), "1");
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  let chunks = 0;
  let text = "";
  for await (const chunk of response.body!) {
    chunks++;
    text += Buffer.from(chunk).toString();
  }
  assert.ok(chunks > 1, "the answer arrived in several chunks");
  assert.equal(text, `data: {"echo":"@{vault.openai/api-key}"}\n\ndata: @{vault.openai/api-key}\n\ndata: [DONE]\n\n`);
  assertNoValue(text, KEY, "the streamed answer");
  void agent;
});

test("every refusal is made before anything is sent, and names its rule", async (t) => {
  const setup = await setUp(t, { COFFER_RELAY_TIMEOUT: "5" });
  if (!setup) return;
  const { admin, agent, upstream } = setup;
  const auth = { Authorization: "Bearer @{vault.openai/api-key}" };
  const cases: [string, Record<string, unknown>, number, string, RegExp][] = [
    ["host", { method: "GET", url: `http://localhost:${upstream.port}/echo`, headers: auth }, 403, "DESTINATION_NOT_ALLOWED", /host 'localhost' is not allowed/],
    ["scheme", { method: "GET", url: `https://127.0.0.1:${upstream.port}/echo`, headers: auth }, 403, "DESTINATION_NOT_ALLOWED", /scheme 'https' is not allowed/],
    ["port", { method: "GET", url: `http://127.0.0.1:${upstream.port + 1}/echo`, headers: auth }, 403, "DESTINATION_NOT_ALLOWED", /port \d+ is not allowed/],
    ["method", { method: "DELETE", url: `${upstream.url}/echo`, headers: auth }, 403, "DESTINATION_NOT_ALLOWED", /method DELETE is not allowed/],
    ["header placement", { method: "GET", url: `${upstream.url}/echo`, headers: { "X-Other": "@{vault.openai/api-key}" } }, 403, "DESTINATION_NOT_ALLOWED", /may not be placed in header 'X-Other'/],
    ["query placement", { method: "GET", url: `${upstream.url}/echo?token=@{vault.openai/api-key}` }, 403, "DESTINATION_NOT_ALLOWED", /may not be placed in query parameter 'token'/],
    ["body placement", { method: "POST", url: `${upstream.url}/echo`, headers: { "X-Key": "@{vault.two-keys.secret}" }, body: "@{vault.two-keys.id}" }, 403, "DESTINATION_NOT_ALLOWED", /may not be placed in the body/],
    ["path", { method: "GET", url: `${upstream.url}/@{vault.openai/api-key}` }, 400, "INVALID_REQUEST", /not in the URL's host or path/],
    ["no secret", { method: "GET", url: `${upstream.url}/echo` }, 400, "INVALID_REQUEST", /uses no secret/],
    ["own header", { method: "GET", url: `${upstream.url}/echo`, headers: { ...auth, Host: "evil.example" } }, 400, "INVALID_REQUEST", /set by the relay/],
    ["malformed placeholder", { method: "GET", url: `${upstream.url}/echo`, headers: { Authorization: "Bearer @{vault.openai/api key}" } }, 400, "INVALID_REQUEST", /looks like a placeholder/],
    ["missing key", { method: "GET", url: `${upstream.url}/echo`, headers: { "X-Key": "@{vault.two-keys}" } }, 400, "INVALID_REQUEST", /has 2 keys/],
    ["body size", { method: "POST", url: `${upstream.url}/echo`, headers: auth, body: "x".repeat(1024 * 1024 + 1) }, 413, "PAYLOAD_TOO_LARGE", /at most 1 MiB/],
    ["timeout above the server's", { method: "GET", url: `${upstream.url}/echo`, headers: auth, timeout: 6 }, 400, "INVALID_REQUEST", /up to 5/],
  ];
  for (const [name, body, status, code, message] of cases) {
    const before = upstream.received.length;
    const reply = await agent("POST", relayPath, body);
    assert.equal(reply.status, status, `${name}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.body.error.code, code, name);
    assert.match(reply.body.error.message, message, name);
    assert.equal(upstream.received.length, before, `${name}: nothing was sent`);
  }

  // Header injection: a value with CR LF would add a header of its own.
  await admin("POST", secretsPath("default"), { name: "crlf", data: { value: "abc\r\nX-Injected: 1" } });
  await admin("PUT", `${secretsPath("default", "crlf")}/grants/sa:agent`, { level: "use" });
  await admin("PATCH", `${secretsPath("default", "crlf")}/metadata`, { relayPolicy: { hosts: ["127.0.0.1"], schemes: ["http"], ports: [upstream.port], headers: ["Authorization"], addresses: ["127.0.0.1"] } });
  const before = upstream.received.length;
  const injected = await agent("POST", relayPath, { method: "GET", url: `${upstream.url}/echo`, headers: { Authorization: "Bearer @{vault.crlf}" } });
  assert.equal(injected.status, 400);
  assert.match(injected.body.error.message, /header 'Authorization' would hold a control character/);
  assert.equal(upstream.received.length, before);

  // A name that resolves to 127.0.0.1 when the policy names only another host's address: localhost is refused.
  await admin("PATCH", `${secretsPath("default", "crlf")}/metadata`, { relayPolicy: { hosts: ["localhost"], schemes: ["http"], ports: [upstream.port], headers: ["X-Key"], addresses: ["10.1.2.3"] } });
  await admin("POST", secretsPath("default"), { name: "local", data: { value: KEY } });
  await admin("PUT", `${secretsPath("default", "local")}/grants/sa:agent`, { level: "use" });
  await admin("PATCH", `${secretsPath("default", "local")}/metadata`, { relayPolicy: { hosts: ["localhost"], schemes: ["http"], ports: [upstream.port], headers: ["Authorization"] } });
  const connections = upstream.connections;
  const resolved = await agent("POST", relayPath, { method: "GET", url: `http://localhost:${upstream.port}/echo`, headers: { Authorization: "Bearer @{vault.local}" } });
  assert.equal(resolved.status, 403, JSON.stringify(resolved.body));
  assert.equal(resolved.body.error.code, "DESTINATION_NOT_ALLOWED");
  assert.match(resolved.body.error.message, /host 'localhost' resolves to (127\.0\.0\.1|::1), a loopback, private or link-local address that the policy does not name/);
  assert.equal(upstream.connections, connections, "no connection was made");
  // An IPv4-mapped IPv6 literal is the same loopback address.
  await admin("PATCH", `${secretsPath("default", "local")}/metadata`, { relayPolicy: { hosts: ["::ffff:127.0.0.1", "::ffff:7f00:1"], schemes: ["http"], ports: [upstream.port], headers: ["Authorization"] } });
  const mapped = await agent("POST", relayPath, { method: "GET", url: `http://[::ffff:127.0.0.1]:${upstream.port}/echo`, headers: { Authorization: "Bearer @{vault.local}" } });
  assert.equal(mapped.status, 403, JSON.stringify(mapped.body));
  assert.match(mapped.body.error.message, /loopback, private or link-local/);

  // Redirects: followed on the same host, refused to another one.
  const same = await agent("POST", relayPath, { method: "GET", url: `${upstream.url}/redirect?to=/echo`, headers: auth });
  assert.equal(same.status, 200, JSON.stringify(same.body));
  assert.equal(JSON.parse(same.body.body).plain, "@{vault.openai/api-key}");
  const sent = upstream.received.length;
  const away = await agent("POST", relayPath, { method: "GET", url: `${upstream.url}/redirect?to=${encodeURIComponent(`http://localhost:${upstream.port}/echo`)}`, headers: auth });
  assert.equal(away.status, 403, JSON.stringify(away.body));
  assert.match(away.body.error.message, /host 'localhost' is not allowed/);
  assert.equal(upstream.received.length, sent + 1, "only the first hop was sent");

  const big = await agent("POST", relayPath, { method: "GET", url: `${upstream.url}/big`, headers: auth });
  assert.equal(big.status, 502);
  assert.equal(big.body.error.code, "UPSTREAM_RESPONSE_TOO_LARGE");

  const started = Date.now();
  const slow = await agent("POST", relayPath, { method: "GET", url: `${upstream.url}/slow`, headers: auth, timeout: 1 });
  assert.equal(slow.status, 504, JSON.stringify(slow.body));
  assert.equal(slow.body.error.code, "UPSTREAM_TIMEOUT");
  assert.ok(Date.now() - started < 4000);
});

test("callers below use, without a grant, or in another workspace are refused", async (t) => {
  const setup = await setUp(t);
  if (!setup) return;
  const { admin, upstream, server } = setup;
  await must(admin("POST", "/api/v1/workspaces/default/service-accounts", { name: "seer" }), 201);
  await must(admin("PUT", `${secretsPath("default", "openai/api-key")}/grants/sa:seer`, { level: "see" }), 200);
  const seer = client(server.url, (await must(admin("POST", "/api/v1/workspaces/default/service-accounts/seer/tokens", {}), 201)).token);
  await must(admin("POST", "/api/v1/workspaces/default/service-accounts", { name: "stranger" }), 201);
  const stranger = client(server.url, (await must(admin("POST", "/api/v1/workspaces/default/service-accounts/stranger/tokens", {}), 201)).token);
  await must(admin("POST", "/api/v1/workspaces", { name: "other" }), 201);
  await must(admin("POST", "/api/v1/workspaces/other/service-accounts", { name: "elsewhere" }), 201);
  const elsewhere = client(server.url, (await must(admin("POST", "/api/v1/workspaces/other/service-accounts/elsewhere/tokens", {}), 201)).token);
  const call = { method: "GET", url: `${upstream.url}/echo`, headers: { Authorization: "Bearer @{vault.openai/api-key}" } };
  const sent = upstream.received.length;
  const see = await seer("POST", relayPath, call);
  assert.equal(see.status, 403);
  assert.equal(see.body.error.code, "ACCESS_DENIED");
  assert.match(see.body.error.message, /may not use secret 'openai\/api-key'/);
  const none = await stranger("POST", relayPath, call);
  assert.equal(none.status, 404);
  assert.equal(none.body.error.code, "SECRET_NOT_FOUND");
  const other = await elsewhere("POST", relayPath, call);
  assert.equal(other.status, 404);
  assert.equal(other.body.error.code, "WORKSPACE_NOT_FOUND");
  const inOther = await elsewhere("POST", "/api/v1/workspaces/other/relay", call);
  assert.equal(inOther.status, 404);
  assert.equal(inOther.body.error.code, "SECRET_NOT_FOUND");
  assert.equal(upstream.received.length, sent, "nothing was sent");
  const denied = await admin("GET", "/api/v1/audit?workspace=default&action=secret.relay&outcome=denied");
  assert.ok(denied.body.events.some((event: { actor: { name: string } }) => event.actor.name === "seer"));
});

test("an HTTPS upstream is reached by name with the certificate checked, and the answer redacted", async (t) => {
  const target = await STORES[0]!.open(t);
  if (!target) return;
  const certificate = testCertificate(t);
  const upstream = await echoing(t, certificate);
  const server = await startServer(t, target, { NODE_EXTRA_CA_CERTS: certificate.caFile });
  t.after(() => server.stop());
  const admin = client(server.url, server.token);
  assert.equal((await admin("POST", secretsPath("default"), { name: "k", data: { value: KEY } })).status, 201);
  const policy = { hosts: ["localhost"], ports: [upstream.port], headers: ["Authorization"], addresses: ["127.0.0.1", "::1"] };
  assert.equal((await admin("PATCH", `${secretsPath("default", "k")}/metadata`, { relayPolicy: policy })).status, 200);
  const reply = await admin("POST", relayPath, { method: "GET", url: `https://localhost:${upstream.port}/echo`, headers: { Authorization: "Bearer @{vault.k}" } });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(upstream.received.at(-1)!.headers.authorization, `Bearer ${KEY}`);
  assertNoValue(JSON.stringify(reply.body), KEY, "the answer");
});

for (const store of STORES) {
  test(`the database holds no relayed value after relayed calls, audit included (${store.kind})`, async (t) => {
    const setup = await setUp(t, {}, store);
    if (!setup) return;
    const { agent, upstream, server } = setup;
    for (let i = 0; i < 3; i++) {
      const reply = await agent("POST", relayPath, { method: "GET", url: `${upstream.url}/echo`, headers: { Authorization: "Bearer @{vault.openai/api-key}" } });
      assert.equal(reply.status, 200);
    }
    await server.stop();
    assertNoValue(server.output(), KEY, "the server's log");
    const args = server.process.spawnargs;
    const databaseUrl = args.includes("--database-url") ? args[args.indexOf("--database-url") + 1] : undefined;
    if (databaseUrl === undefined) {
      for (const file of filesUnder(args[args.indexOf("--data-dir") + 1]!)) assertNoValue(readFileSync(file).toString("latin1"), KEY, file);
      return;
    }
    const pg = new Client({ connectionString: databaseUrl });
    await pg.connect();
    try {
      const segments = await pg.query("select events from audit_segments");
      assert.ok(segments.rows.length > 0);
      const audit = segments.rows.map((row: { events: Buffer }) => row.events.toString("latin1")).join("\n");
      assert.ok(audit.includes("secret.relay"));
      assertNoValue(audit, KEY, "the audit segments");
      for (const table of ["secrets", "secret_versions", "tokens", "relay_routes"]) {
        const rows = await pg.query(`select * from ${table}`);
        assertNoValue(JSON.stringify(rows.rows, (_key, value) => (value?.type === "Buffer" ? Buffer.from(value.data).toString("latin1") : value)), KEY, table);
      }
    } finally {
      await pg.end();
    }
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
