/**
 * The SDK's relay against a real server and a local upstream: relay(),
 * fetch() (a real, streaming Response), relay policies through metadata,
 * base-URL routes, attribution headers, and token labels and caps. The
 * caller holds only `use`: it never receives the value, though the upstream
 * does.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { Coffer, CofferError } from "../src/index.ts";
import { startUpstream, upstreamPolicy } from "./support/upstream.ts";

const VALUE = `sk-relay-${Math.random().toString(36).slice(2, 12)}`;
const PLACEHOLDER = "@{vault.openai/api-key}";

async function rejectsWith(promise: Promise<unknown>, code: string, status: number): Promise<CofferError> {
  let caught: CofferError | undefined;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, status);
    caught = error;
    return true;
  });
  return caught!;
}

async function world(t: import("node:test").TestContext) {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const upstream = await startUpstream(t);
  const admin = new Coffer({ addr: server.url, token: server.token!, workspace: "default" });
  await admin.secrets.create("openai/api-key", { value: VALUE });
  return { server, upstream, admin };
}

/** A token of the administrator that carries only `use`: Coffer uses values for it, never shows them. */
async function useToken(admin: Coffer, extra: Parameters<Coffer["tokens"]["create"]>[0] = {}) {
  return admin.tokens.create({ name: "agent", access: "use", ...extra });
}

test("relay policies are read and set through metadata; removing one stops the relay", async (t) => {
  const { server, upstream, admin } = await world(t);
  assert.equal(await admin.relayPolicy("openai/api-key"), null, "no policy by default");
  const set = await admin.setRelayPolicy("openai/api-key", { hosts: ["api.openai.com"], headers: ["Authorization"] });
  assert.deepEqual(set, { hosts: ["api.openai.com"], schemes: ["https"], ports: [], methods: [], headers: ["Authorization"], query: [], body: false, addresses: [] }, "omitted fields take their defaults");
  assert.deepEqual(await admin.relayPolicy("openai/api-key"), set);
  assert.deepEqual((await admin.secrets.metadata("openai/api-key")).relayPolicy, set);

  // A personal secret carries its own.
  await admin.secrets.create("mine", { value: "personal-value-1" }, { scope: "personal" });
  await admin.setRelayPolicy("mine", { hosts: ["example.com"] }, { scope: "personal" });
  assert.deepEqual((await admin.relayPolicy("mine", { scope: "personal" }))?.hosts, ["example.com"]);

  // Only manage may change it.
  const agent = new Coffer({ addr: server.url, token: (await useToken(admin)).token });
  await rejectsWith(agent.setRelayPolicy("openai/api-key", { hosts: ["evil.example"] }), "ACCESS_DENIED", 403);

  await admin.setRelayPolicy("openai/api-key", upstreamPolicy(upstream));
  assert.equal((await agent.relay({ url: `${upstream.url}/echo`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } })).status, 200);
  assert.equal(await admin.setRelayPolicy("openai/api-key", null), null);
  await rejectsWith(agent.relay({ url: `${upstream.url}/echo`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } }), "DESTINATION_NOT_ALLOWED", 403);
});

test("relay(): the upstream gets the value, the caller only the placeholder; refusals send nothing", async (t) => {
  const { server, upstream, admin } = await world(t);
  await admin.setRelayPolicy("openai/api-key", upstreamPolicy(upstream));
  const minted = await useToken(admin);
  const agent = new Coffer({ addr: server.url, token: minted.token });
  await rejectsWith(agent.secrets.get("openai/api-key"), "ACCESS_DENIED", 403);

  const answer = await agent.relay({ method: "post", url: `${upstream.url}/echo?key=${PLACEHOLDER}`, headers: { Authorization: `Bearer ${PLACEHOLDER}`, "content-type": "text/plain" }, body: `body has ${PLACEHOLDER}` });
  assert.equal(answer.status, 200);
  assert.equal(answer.bodyEncoding, "utf8");
  const echoed = JSON.parse(answer.body) as { method: string; authorization: string; base64: string; body: string; url: string };
  assert.equal(echoed.method, "POST");
  assert.equal(echoed.authorization, `Bearer ${PLACEHOLDER}`, "the echoed header is redacted");
  assert.equal(echoed.body, `body has ${PLACEHOLDER}`);
  assert.equal(answer.headers["x-echo-authorization"], `Bearer ${PLACEHOLDER}`, "so are the answer's headers");
  const seen = upstream.received.at(-1)!;
  assert.equal(seen.headers.authorization, `Bearer ${VALUE}`, "the upstream received the real value");
  assert.equal(seen.body, `body has ${VALUE}`);
  assert.ok(seen.url.includes(`key=${encodeURIComponent(VALUE)}`) || seen.url.includes(`key=${VALUE}`), seen.url);
  assert.ok(!JSON.stringify(answer).includes(VALUE), "no value in the answer");
  assert.ok(!JSON.stringify(answer).includes(Buffer.from(`Bearer ${VALUE}`).toString("base64")), "nor its base64");

  // Binary bodies both ways travel as base64.
  const binary = await agent.relay({ method: "POST", url: `${upstream.url}/binary`, headers: { Authorization: `Bearer ${PLACEHOLDER}` }, body: new Uint8Array([0, 255, 1, 254]) });
  assert.equal(binary.bodyEncoding, "base64");
  assert.deepEqual([...Buffer.from(binary.body, "base64")], Array.from({ length: 256 }, (_, i) => i));

  // An upstream error status is an answer, not an error.
  const teapot = await agent.relay({ url: `${upstream.url}/status/418`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } });
  assert.deepEqual([teapot.status, teapot.body], [418, "upstream says 418"]);

  // Refused before anything is sent: a host outside the policy, a header it does not name, an unknown secret.
  const before = upstream.received.length;
  const refused = await rejectsWith(agent.relay({ url: `http://localhost:${upstream.port}/echo`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } }), "DESTINATION_NOT_ALLOWED", 403);
  assert.match(refused.message, /localhost/);
  await rejectsWith(agent.relay({ url: `${upstream.url}/echo`, headers: { "X-Other": PLACEHOLDER } }), "DESTINATION_NOT_ALLOWED", 403);
  await rejectsWith(agent.relay({ url: `${upstream.url}/echo`, headers: { Authorization: "Bearer @{vault.missing}" } }), "SECRET_NOT_FOUND", 404);
  assert.equal(upstream.received.length, before, "no refused request reached the upstream");
});

test("fetch(): a real Response that streams as the upstream streams, redacted; refusals throw CofferError", async (t) => {
  const { server, upstream, admin } = await world(t);
  await admin.setRelayPolicy("openai/api-key", upstreamPolicy(upstream));
  const agent = new Coffer({ addr: server.url, token: (await useToken(admin)).token });

  const plain = await agent.fetch(`${upstream.url}/echo`, { method: "POST", headers: { Authorization: `Bearer ${PLACEHOLDER}` }, body: JSON.stringify({ q: PLACEHOLDER }) });
  assert.ok(plain instanceof Response);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get("content-type"), "application/json");
  assert.equal(plain.headers.get("x-coffer-relay"), "1");
  const echoed = (await plain.json()) as { authorization: string; body: string };
  assert.equal(echoed.authorization, `Bearer ${PLACEHOLDER}`);
  assert.equal(echoed.body, JSON.stringify({ q: PLACEHOLDER }));
  assert.equal(upstream.received.at(-1)!.body, JSON.stringify({ q: VALUE }));

  // A URLSearchParams body is read with the content-type it implies; a Request works as the input.
  const form = await agent.fetch(new Request(`${upstream.url}/echo`, { method: "POST", headers: { Authorization: `Bearer ${PLACEHOLDER}` } }), { body: new URLSearchParams({ a: "1" }) });
  assert.equal(((await form.json()) as { body: string }).body, "a=1");
  assert.match(String(upstream.received.at(-1)!.headers["content-type"]), /application\/x-www-form-urlencoded/);

  // The first event arrives while the upstream still holds the rest back: it streams.
  const streamed = await agent.fetch(`${upstream.url}/stream`, { headers: { Authorization: `Bearer ${PLACEHOLDER}` } });
  assert.equal(streamed.headers.get("content-type"), "text/event-stream");
  const reader = streamed.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("data: first")) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the stream ended before its first event");
    text += decoder.decode(value, { stream: true });
  }
  upstream.release();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  assert.match(text, /data: Bearer @\{vault\.openai\/api-key\}/);
  assert.ok(!text.includes(VALUE));

  const teapot = await agent.fetch(`${upstream.url}/status/418`, { headers: { Authorization: `Bearer ${PLACEHOLDER}` } });
  assert.deepEqual([teapot.status, await teapot.text()], [418, "upstream says 418"], "an upstream error status is a Response, not an error");

  await rejectsWith(agent.fetch(`http://localhost:${upstream.port}/echo`, { headers: { Authorization: `Bearer ${PLACEHOLDER}` } }), "DESTINATION_NOT_ALLOWED", 403);
});

test("base-URL routes: admins put and delete them, members list them; attribution and token labels reach the audit log", async (t) => {
  const { server, upstream, admin } = await world(t);
  await admin.setRelayPolicy("openai/api-key", upstreamPolicy(upstream));
  const route = await admin.relayRoutes.put("fake-openai", { target: upstream.url, headers: { Authorization: `Bearer ${PLACEHOLDER}` }, description: "local fake" });
  assert.equal(route.name, "fake-openai");
  assert.deepEqual(route.headers, { Authorization: `Bearer ${PLACEHOLDER}` });
  const minted = await useToken(admin, { labels: { agent: "support-bot", session: "run-7" } });
  assert.deepEqual(minted.info.labels, { agent: "support-bot", session: "run-7" });
  const agent = new Coffer({ addr: server.url, token: minted.token, attribution: { tool: "web-search" } });
  assert.deepEqual((await agent.relayRoutes.list()).map((r) => [r.name, r.target]), [["fake-openai", upstream.url]], "any member lists routes");
  await rejectsWith(agent.relayRoutes.put("other", { target: upstream.url }), "ACCESS_DENIED", 403);
  await rejectsWith(agent.relayRoutes.delete("fake-openai"), "ACCESS_DENIED", 403);

  // The route forwards with the caller's Coffer token as its API key, as an unchanged SDK would send it.
  const proxied = await fetch(`${server.url}/relay/default/fake-openai/echo`, { headers: { authorization: `Bearer ${minted.token}` } });
  assert.equal(proxied.status, 200);
  assert.equal(((await proxied.json()) as { authorization: string }).authorization, `Bearer ${PLACEHOLDER}`);
  assert.equal(upstream.received.at(-1)!.headers.authorization, `Bearer ${VALUE}`);

  await agent.relay({ url: `${upstream.url}/echo`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } });
  const { events } = await admin.call<{ events: Record<string, unknown>[] }>("listAudit", {}, { query: { action: "secret.relay" } });
  const text = JSON.stringify(events);
  assert.match(text, /support-bot/);
  assert.match(text, /run-7/);
  assert.match(text, /web-search/);
  assert.ok(!text.includes(VALUE), "the audit log holds no value");

  await admin.relayRoutes.delete("fake-openai");
  assert.deepEqual(await admin.relayRoutes.list(), []);
});

test("a token's relay cap refuses further calls with RATE_LIMITED, without retrying", async (t) => {
  const { server, upstream, admin } = await world(t);
  await admin.setRelayPolicy("openai/api-key", upstreamPolicy(upstream));
  const minted = await useToken(admin, { relayUsesPerHour: 2 });
  assert.equal(minted.info.relayUsesPerHour, 2);
  assert.equal((await admin.tokens.list()).find((token) => token.id === minted.info.id)?.relayUsesPerHour, 2);
  let calls = 0;
  const counting: typeof fetch = (input, init) => {
    calls++;
    return fetch(input, init);
  };
  const agent = new Coffer({ addr: server.url, token: minted.token, fetch: counting });
  const request = { url: `${upstream.url}/echo`, headers: { Authorization: `Bearer ${PLACEHOLDER}` } };
  await agent.relay(request);
  await agent.relay(request);
  calls = 0;
  await rejectsWith(agent.relay(request), "RATE_LIMITED", 429);
  await rejectsWith(agent.fetch(request.url, { headers: request.headers }), "RATE_LIMITED", 429);
  assert.equal(calls, 2, "a refused relay is not retried");
  // A child cannot raise its parent's cap.
  const parent = new Coffer({ addr: server.url, token: minted.token });
  await rejectsWith(parent.tokens.createChild({ relayUsesPerHour: 5 }), "INVALID_REQUEST", 400);
});
