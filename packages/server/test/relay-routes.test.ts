/**
 * Base-URL routes and their proxy, end to end: a real server, a local
 * upstream that records and echoes what it gets, and an agent holding only a
 * `use` token. What the proxy forwards (method, path, query, headers, body,
 * streams), what it never forwards (the caller's Coffer credential, cookies,
 * its own X-Coffer-* headers), what it refuses before sending, and that only
 * the route's templates ever carry a value.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { test, type TestContext } from "node:test";
import { formsOf } from "../src/relay/redaction.ts";
import { client, must, secretsPath } from "./support/http.ts";
import { startServer } from "./support/server.ts";
import { STORES } from "./support/stores.ts";
import { startUpstream } from "./support/upstream.ts";

const KEY = `sk-route-${Math.random().toString(36).slice(2, 14)}`;
const OTHER = `sk-other-${Math.random().toString(36).slice(2, 14)}`;
const routes = "/api/v1/workspaces/default/relay-routes";

function assertNoValue(text: string, value: string, where: string): void {
  for (const form of formsOf(value)) assert.ok(!text.includes(form), `${where} holds the value (${form === value ? "as plain text" : "encoded"})`);
}

async function world(t: TestContext) {
  const target = await STORES[0]!.open(t);
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const upstream = await startUpstream(t, (request, body, response) => {
    if (request.url?.startsWith("/v1/stream")) {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(`data: first ${request.headers.authorization}\n\n`);
      void held.then(() => response.end("data: [DONE]\n\n"));
      return;
    }
    response.writeHead(201, { "content-type": "application/json", "x-upstream": "yes" });
    response.end(JSON.stringify({ method: request.method, url: request.url, headers: request.headers, body: body.toString("utf8") }));
  });
  const server = await startServer(t, target!);
  t.after(() => server.stop());
  const admin = client(server.url, server.token);
  const policy = { hosts: ["127.0.0.1"], schemes: ["http"], ports: [upstream.port], headers: ["Authorization", "X-Api-Key"], query: ["key"], body: true, addresses: ["127.0.0.1"] };
  for (const [name, value] of [["api/key", KEY], ["api/other", OTHER]] as const) {
    await must(admin("POST", secretsPath("default"), { name, data: { value } }), 201);
    await must(admin("PATCH", `${secretsPath("default", name)}/metadata`, { relayPolicy: policy }), 200);
  }
  const agent = await must(admin("POST", "/api/v1/auth/tokens", { name: "agent", access: "use", labels: { agent: "route-bot" } }), 201);
  return { server, upstream, admin, agentToken: agent.token as string, release };
}

test("routes are checked when saved: a valid name and target, templates that name a secret and nothing almost like one", async (t) => {
  const { admin, upstream } = await world(t);
  const put = (name: string, body: unknown) => admin("PUT", `${routes}/${name}`, body);
  const refused = async (name: string, body: unknown, message: RegExp) => {
    const reply = await must(put(name, body), 400);
    assert.equal(reply.error.code, "INVALID_REQUEST");
    assert.match(reply.error.message, message);
  };
  const auth = { Authorization: "Bearer @{vault.api/key}" };
  await refused("Upper", { target: upstream.url, headers: auth }, /route names are lowercase/);
  await refused("r", { target: "ftp://example.com", headers: auth }, /http or https/);
  await refused("r", { target: "https://user:pw@example.com", headers: auth }, /credentials/);
  await refused("r", { target: "https://example.com/?a=1", headers: auth }, /no query/);
  await refused("r", { target: "https://example.com", headers: { "X-Static": "literal" } }, /names at least one secret/);
  await refused("r", { target: "https://example.com", headers: { Authorization: "Bearer @{vault.}" } }, /looks like a placeholder/);
  await refused("r", { target: "https://example.com", headers: { Host: "@{vault.api/key}" } }, /set by the relay/);
  const saved = await must(put("api", { target: `${upstream.url}/`, headers: auth, query: { mode: "fast" }, description: "the api" }), 200);
  assert.equal(saved.target, upstream.url, "kept without its trailing slash");
  assert.deepEqual(saved.query, { mode: "fast" }, "a constant beside a secret is fine");
  assert.equal((await must(admin("GET", `${routes}/api`), 200)).description, "the api");
  assert.equal((await must(admin("GET", `${routes}/nope`), 404)).error.code, "NOT_FOUND");
  const events = await must(admin("GET", "/api/v1/audit?workspace=default&action=relay.route-put"), 200);
  assert.ok(events.events.some((event: { subject: string; outcome: string }) => event.subject === "relay-route=api"), "saving a route is audited");
});

test("the proxy forwards method, path, query, headers and body; the Coffer token, cookies and X-Coffer-* stay; only templates carry values", async (t) => {
  const { server, upstream, admin, agentToken } = await world(t);
  await must(admin("PUT", `${routes}/api`, { target: `${upstream.url}/base`, headers: { Authorization: "Bearer @{vault.api/key}" }, query: { key: "@{vault.api/key}" } }), 200);
  const sent = await fetch(`${server.url}/relay/default/api/v1/items?page=2&q=@{vault.api/other}`, {
    method: "PATCH",
    headers: {
      authorization: `Bearer ${agentToken}`,
      cookie: "coffer_session=should-not-travel",
      "x-coffer-session": "run-9",
      "x-custom": "kept @{vault.api/other}",
      "content-type": "application/json",
    },
    body: JSON.stringify({ text: "a placeholder the agent was talked into: @{vault.api/other}" }),
  });
  assert.equal(sent.status, 201, "the upstream's status");
  assert.equal(sent.headers.get("x-upstream"), "yes");
  assert.equal(sent.headers.get("x-coffer-relay"), "1");
  const text = await sent.text();
  const seen = upstream.received.at(-1)!;
  assert.equal(seen.method, "PATCH");
  assert.equal(seen.url, `/base/v1/items?page=2&q=@{vault.api/other}&key=${encodeURIComponent(KEY)}`, "the caller's query as written, the template's after it");
  assert.equal(seen.headers.authorization, `Bearer ${KEY}`, "the template replaced the caller's credential");
  assert.equal(seen.headers["x-custom"], "kept @{vault.api/other}", "the caller's headers travel as written");
  assert.equal(seen.headers.cookie, undefined);
  assert.equal(seen.headers["x-coffer-session"], undefined);
  assert.equal(seen.body.toString(), JSON.stringify({ text: "a placeholder the agent was talked into: @{vault.api/other}" }), "the body is never filled in");
  assertNoValue(JSON.stringify(upstream.received), OTHER, "what the upstream got");
  assertNoValue(JSON.stringify(upstream.received), agentToken, "what the upstream got");
  assertNoValue(text, KEY, "the agent's answer");
  assert.match(text, /Bearer @\{vault\.api\/key\}/, "the echoed key is its placeholder");

  // x-api-key carries the token as well (SDKs such as Anthropic's put their key there).
  const viaApiKey = await fetch(`${server.url}/relay/default/api`, { headers: { "x-api-key": agentToken } });
  assert.equal(viaApiKey.status, 201);
  assert.equal(upstream.received.at(-1)!.url, `/base?key=${encodeURIComponent(KEY)}`);
  assert.equal(upstream.received.at(-1)!.headers["x-api-key"], undefined);

  // Audited per secret, with the route, the attribution header and the token's label.
  const { events } = await must(admin("GET", "/api/v1/audit?workspace=default&action=secret.relay"), 200);
  const first = (events as { subject: string; secretName: string }[]).find((event) => event.subject.includes("session=run-9"))!;
  assert.equal(first.secretName, "api/key");
  assert.match(first.subject, /^route=api host=127\.0\.0\.1 method=PATCH upstream=201 sent=\d+ received=\d+ ms=\d+ agent=route-bot session=run-9$/);
});

test("the proxy streams, and refuses before sending: no token, a dot segment, a host the policy does not name, a spent cap", async (t) => {
  const { server, upstream, admin, agentToken, release } = await world(t);
  await must(admin("PUT", `${routes}/api`, { target: upstream.url, headers: { Authorization: "Bearer @{vault.api/key}" } }), 200);
  const streamed = await fetch(`${server.url}/relay/default/api/v1/stream`, { headers: { authorization: `Bearer ${agentToken}` } });
  assert.equal(streamed.headers.get("content-type"), "text/event-stream");
  const reader = streamed.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("first")) text += decoder.decode((await reader.read()).value, { stream: true });
  release();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value, { stream: true });
  assert.equal(text, "data: first Bearer @{vault.api/key}\n\ndata: [DONE]\n\n", "the first event came while the upstream held the rest back");

  const before = upstream.received.length;
  const call = (path: string, token: string | null = agentToken) => fetch(`${server.url}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const code = async (response: Response) => [response.status, ((await response.json()) as { error: { code: string } }).error.code];
  assert.deepEqual(await code(await call("/relay/default/api/v1", null)), [401, "UNAUTHENTICATED"]);
  // Sent raw: fetch would resolve the dot segments itself.
  for (const path of ["/relay/default/api/v1/../admin", "/relay/default/api/v1/%2e%2E/admin", "/relay/default/api/./v1"]) {
    assert.deepEqual(await rawGet(server.url, path, agentToken), [400, "INVALID_REQUEST"], path);
  }
  assert.deepEqual(await code(await call("/relay/default/nope/v1")), [404, "NOT_FOUND"]);
  assert.deepEqual(await code(await call("/relay/elsewhere/api/v1")), [404, "WORKSPACE_NOT_FOUND"]);
  // The same secret on a route to a host its policy does not name.
  await must(admin("PUT", `${routes}/elsewhere`, { target: `http://localhost:${upstream.port}`, headers: { Authorization: "Bearer @{vault.api/key}" } }), 200);
  assert.deepEqual(await code(await call("/relay/default/elsewhere/v1")), [403, "DESTINATION_NOT_ALLOWED"]);
  assert.equal(upstream.received.length, before, "no refused call reached the upstream");

  // A capped token: the third use of the secret in the hour is refused with 429 and Retry-After.
  const capped = await must(admin("POST", "/api/v1/auth/tokens", { name: "capped", access: "use", relayUsesPerHour: 2 }), 201);
  for (let i = 0; i < 2; i++) assert.equal((await call("/relay/default/api/v1", capped.token)).status, 201);
  const spent = await call("/relay/default/api/v1", capped.token);
  assert.ok(Number(spent.headers.get("retry-after")) > 0);
  assert.deepEqual(await code(spent), [429, "RATE_LIMITED"]);
  assert.equal(upstream.received.length, before + 2);
});

/** A GET with the path exactly as given: status and error code. */
function rawGet(base: string, path: string, token: string): Promise<[number, string]> {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL(base), { path, headers: { authorization: `Bearer ${token}` } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve([response.statusCode ?? 0, (JSON.parse(Buffer.concat(chunks).toString()) as { error: { code: string } }).error.code]));
    });
    request.on("error", reject);
  });
}

test("a route changed on one node is the route every node uses: at once on that node, within a second on another (PostgreSQL, the change feed)", async (t) => {
  const target = await STORES[1]!.open(t);
  if (!target) return;
  const upstream = await startUpstream(t, (request, _body, response) => {
    response.writeHead(200, { "content-type": "text/plain" });
    response.end(request.url);
  });
  const a = await startServer(t, target);
  t.after(() => a.stop());
  const b = await startServer(t, target);
  t.after(() => b.stop());
  const admin = client(a.url, a.token);
  await must(admin("POST", secretsPath("default"), { name: "api/key", data: { value: KEY } }), 201);
  const policy = { hosts: ["127.0.0.1"], schemes: ["http"], ports: [upstream.port], headers: ["Authorization"], addresses: ["127.0.0.1"] };
  await must(admin("PATCH", `${secretsPath("default", "api/key")}/metadata`, { relayPolicy: policy }), 200);
  const agent = (await must(admin("POST", "/api/v1/auth/tokens", { name: "agent", access: "use" }), 201)).token as string;
  const put = (prefix: string) => must(admin("PUT", `${routes}/api`, { target: `${upstream.url}${prefix}`, headers: { Authorization: "Bearer @{vault.api/key}" } }), 200);
  const through = async (node: { url: string }) => {
    const response = await fetch(`${node.url}/relay/default/api/v1`, { headers: { authorization: `Bearer ${agent}` } });
    return `${response.status} ${await response.text()}`;
  };
  const eventually = async (node: { url: string }, expected: RegExp, what: string) => {
    const deadline = Date.now() + 1_000;
    let seen = await through(node);
    while (!expected.test(seen) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen = await through(node);
    }
    assert.match(seen, expected, what);
  };

  await put("/first");
  assert.equal(await through(a), "200 /first/v1");
  assert.equal(await through(b), "200 /first/v1", "node B has looked the route up (and holds it now)");
  await put("/second");
  assert.equal(await through(a), "200 /second/v1", "the node that changed the route uses the new one at once");
  await eventually(b, /^200 \/second\/v1$/, "node B dropped the route it held when node A changed it");
  await must(admin("DELETE", `${routes}/api`), 204);
  assert.match(await through(a), /^404 .*NOT_FOUND/, "a deleted route is gone at once on its node");
  await eventually(b, /^404 .*NOT_FOUND/, "and from node B's cache");
});
