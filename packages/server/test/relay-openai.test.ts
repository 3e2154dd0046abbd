/**
 * The real `openai` npm package, unchanged, pointed at a base-URL route of a
 * real server in front of a local fake of OpenAI's API. The agent gives the
 * SDK its own Coffer token (a `use` token) as the API key; the fake receives
 * the real key, and echoes it back (in a plain answer and split across the
 * chunks of a stream) so the test can see that the client never gets it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { client, must, secretsPath } from "./support/http.ts";
import { startServer } from "./support/server.ts";
import { STORES } from "./support/stores.ts";
import { startUpstream, writeInPieces } from "./support/upstream.ts";
import { formsOf } from "../src/relay/redaction.ts";

const KEY = `sk-proj-${"fake".repeat(4)}-${Math.random().toString(36).slice(2, 14)}`;
const PLACEHOLDER = "@{vault.openai/api-key}";

function assertNoValue(text: string, value: string, where: string): void {
  for (const form of formsOf(value)) assert.ok(!text.includes(form), `${where} holds the value (${form === value ? "as plain text" : "encoded"})`);
}

/** Enough of POST /v1/chat/completions for the SDK: a completion, or the same as server-sent events. */
function fakeOpenAi(t: import("node:test").TestContext) {
  return startUpstream(t, (request, body, response) => {
    if (request.method !== "POST" || request.url !== "/v1/chat/completions") {
      response.writeHead(404, { "content-type": "application/json" });
      return response.end(JSON.stringify({ error: { message: "unknown path", type: "invalid_request_error" } }));
    }
    const key = String(request.headers.authorization ?? "").replace(/^Bearer /, "");
    if (key !== KEY) {
      response.writeHead(401, { "content-type": "application/json" });
      return response.end(JSON.stringify({ error: { message: "Incorrect API key provided", type: "invalid_request_error" } }));
    }
    const asked = JSON.parse(body.toString("utf8")) as { model: string; stream?: boolean; messages: { content: string }[] };
    const reply = `you said '${asked.messages.at(-1)!.content}' with key ${key}`;
    const base = { id: "chatcmpl-fake", created: 1_700_000_000, model: asked.model };
    if (!asked.stream) {
      response.writeHead(200, { "content-type": "application/json" });
      return response.end(JSON.stringify({ ...base, object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: reply }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 } }));
    }
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const event = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const text = event({ role: "assistant", content: "" }) + event({ content: reply }) + event({}, "stop") + "data: [DONE]\n\n";
    // Written in small pieces some milliseconds apart: the key is split across chunks.
    writeInPieces(response, text, 7);
  });
}

test("the openai package, unchanged, through a base-URL route: plain and streamed completions; the fake gets the key, the client never sees it", async (t) => {
  const target = await STORES[0]!.open(t);
  const upstream = await fakeOpenAi(t);
  const server = await startServer(t, target!);
  t.after(() => server.stop());
  const admin = client(server.url, server.token);
  await must(admin("POST", secretsPath("default"), { name: "openai/api-key", data: { value: KEY } }), 201);
  await must(admin("PATCH", `${secretsPath("default", "openai/api-key")}/metadata`, { relayPolicy: { hosts: ["127.0.0.1"], schemes: ["http"], ports: [upstream.port], methods: ["POST"], headers: ["Authorization"], addresses: ["127.0.0.1"] } }), 200);
  await must(admin("PUT", "/api/v1/workspaces/default/relay-routes/openai", { target: upstream.url, headers: { Authorization: `Bearer ${PLACEHOLDER}` } }), 200);
  const agent = await must(admin("POST", "/api/v1/auth/tokens", { name: "agent", access: "use", labels: { agent: "openai-sdk" } }), 201);

  const openai = new OpenAI({ baseURL: `${server.url}/relay/default/openai/v1`, apiKey: agent.token, maxRetries: 0 });

  const completion = await openai.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "hello" }] });
  assert.equal(completion.choices[0]!.message.content, `you said 'hello' with key ${PLACEHOLDER}`, "the echoed key comes back as its placeholder");
  assert.equal(completion.usage?.total_tokens, 12);
  const plainCall = upstream.received.at(-1)!;
  assert.equal(plainCall.headers.authorization, `Bearer ${KEY}`, "the fake received the real key");
  assert.ok(!JSON.stringify(plainCall.headers).includes(agent.token), "the agent's Coffer token stays with Coffer");

  const stream = await openai.chat.completions.create({ model: "gpt-fake", stream: true, messages: [{ role: "user", content: "stream it" }] });
  let streamed = "";
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    streamed += chunk.choices[0]?.delta.content ?? "";
  }
  assert.equal(chunks, 3, "every event arrived as its own chunk");
  assert.equal(streamed, `you said 'stream it' with key ${PLACEHOLDER}`, "the key split across the stream's chunks is redacted");
  assert.equal(upstream.received.at(-1)!.headers.authorization, `Bearer ${KEY}`);
  assertNoValue(JSON.stringify(completion) + streamed, KEY, "what the client got");

  // Without a Coffer token the SDK's call is refused by Coffer, and nothing reaches the fake.
  const before = upstream.received.length;
  const stranger = new OpenAI({ baseURL: `${server.url}/relay/default/openai/v1`, apiKey: "sk-not-a-coffer-token", maxRetries: 0 });
  await assert.rejects(stranger.chat.completions.create({ model: "gpt-fake", messages: [{ role: "user", content: "hi" }] }), (error: unknown) => error instanceof OpenAI.AuthenticationError);
  assert.equal(upstream.received.length, before);

  // Both calls are audited as uses of the secret through the route, with the token's label, never the value.
  const { events } = await must(admin("GET", "/api/v1/audit?workspace=default&action=secret.relay"), 200);
  const routed = (events as { subject: string; secretName: string | null }[]).filter((event) => event.subject.includes("route=openai"));
  assert.equal(routed.length, 2, JSON.stringify(events));
  for (const event of routed) {
    assert.equal(event.secretName, "openai/api-key");
    assert.match(event.subject, /method=POST upstream=200 sent=\d+ received=\d+ ms=\d+ agent=openai-sdk/);
  }
  assertNoValue(JSON.stringify(events), KEY, "the audit log");
});
