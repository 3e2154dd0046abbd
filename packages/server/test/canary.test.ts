/**
 * Canary secrets end to end: a real server, a real webhook receiver, the real
 * CLI. Every path that reveals or uses a canary's value raises one
 * high-severity canary.triggered alert and webhook naming the caller, its
 * token, address and agent, next to a canary.triggered audit event; listing
 * names and reading metadata raise nothing, and the caller's answer is the
 * same as for any other secret.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { client, secretsPath } from "./support/http.ts";
import { COFFER_BIN, startServer } from "./support/server.ts";
import { STORES } from "./support/stores.ts";
import { startUpstream } from "./support/upstream.ts";
import { waitFor } from "./support/cluster.ts";

const WS = "/api/v1/workspaces/default";

/** `coffer` as a child process with the agent's token; no config of the machine's. */
function cli(args: string[], addr: string, token: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("COFFER_") && value !== undefined) env[key] = value;
    const child = spawn(process.execPath, [COFFER_BIN, ...args], {
      env: { ...env, COFFER_ADDR: addr, COFFER_TOKEN: token, COFFER_CONFIG_DIR: "/nonexistent-coffer-config" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("every read and use of a canary raises canary.triggered with the caller's attribution; lists and metadata do not", async (t) => {
  const target = await STORES[0]!.open(t);
  if (!target) return;
  const receiver = await startUpstream(t, (_request, _body, response) => response.end("{}"));
  const server = await startServer(t, target);
  t.after(() => server.stop());
  const admin = client(server.url, server.token);
  const must = async (reply: Promise<{ status: number; body: any }>, status: number, what: string) => {
    const got = await reply;
    assert.equal(got.status, status, `${what}: ${JSON.stringify(got.body)}`);
    return got.body;
  };

  await must(admin("POST", `${WS}/webhooks`, { url: `${receiver.url}/hook`, events: ["canary.triggered"] }), 201, "webhook");
  const aws = await must(admin("POST", secretsPath("default"), { name: "aws/prod-root", canary: true, canaryFormat: "aws" }), 201, "aws canary");
  assert.match(aws.data.access_key_id, /^AKIA[A-Z2-7]{16}$/);
  assert.match(aws.data.secret_access_key, /^[A-Za-z0-9+/]{40}$/);
  const openai = await must(admin("POST", secretsPath("default"), { name: "openai/billing", canary: true, canaryFormat: "openai" }), 201, "openai canary");
  assert.match(openai.data.value, /^sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}$/);
  const github = await must(admin("POST", secretsPath("default"), { name: "github/deploy", canary: true, canaryFormat: "github" }), 201, "github canary");
  assert.match(github.data.value, /^ghp_[A-Za-z0-9]{36}$/);
  await must(admin("POST", secretsPath("default"), { name: "signing/webhooks", type: "HMAC", canary: true }), 201, "HMAC canary");
  await must(admin("POST", secretsPath("default"), { name: "plain", data: { value: "not-a-canary" } }), 201, "ordinary secret");
  // A canary's value is Coffer's to make.
  const given = await admin("POST", secretsPath("default"), { name: "bad", canary: true, data: { value: "x" } });
  assert.equal(given.status, 400);
  assert.equal((await admin("POST", secretsPath("default"), { name: "bad", canaryFormat: "aws", data: { value: "x" } })).status, 400);

  await must(admin("POST", `${WS}/service-accounts`, { name: "agent" }), 201, "service account");
  for (const [name, level] of [["aws/prod-root", "read"], ["github/deploy", "read"], ["openai/billing", "use"], ["signing/webhooks", "use"], ["plain", "read"]] as const) {
    await must(admin("PUT", `${secretsPath("default", name)}/grants/sa:agent`, { level }), 200, `grant ${name}`);
  }
  const minted = await must(admin("POST", `${WS}/service-accounts/agent/tokens`, { labels: { agent: "planner", session: "run-7" } }), 201, "agent token");
  const agent = client(server.url, minted.token);
  const policy = { hosts: ["127.0.0.1"], schemes: ["http"], ports: [receiver.port], methods: ["GET"], headers: ["Authorization"], query: [], body: false, addresses: ["127.0.0.1"] };
  await must(admin("PATCH", `${secretsPath("default", "openai/billing")}/metadata`, { relayPolicy: policy }), 200, "relay policy");

  // ---- What does not trigger: names, metadata (native and Vellum), an ordinary secret's value.
  const listed = await must(agent("GET", secretsPath("default")), 200, "list");
  assert.ok(listed.items.some((item: { name: string }) => item.name === "aws/prod-root"));
  assert.equal(JSON.stringify(listed).includes("canary"), false, "a list does not tell a canary apart");
  const seen = await must(agent("GET", `${secretsPath("default", "aws/prod-root")}/metadata`), 200, "agent metadata");
  assert.equal(seen.canary, undefined, "only those who manage it learn it is a canary");
  assert.equal((await must(admin("GET", `${secretsPath("default", "aws/prod-root")}/metadata`), 200, "admin metadata")).canary, true);
  await must(agent("GET", `${secretsPath("default", "aws/prod-root")}/versions`), 200, "versions");
  await must(agent("GET", "/vellum/v1/workspace-secrets/aws%2Fprod-root", undefined, { "x-api-key": minted.token, authorization: "" }), 200, "vellum read (metadata)");
  await must(agent("GET", secretsPath("default", "plain")), 200, "ordinary read");
  await must(agent("GET", `/v1/secret/metadata/aws/prod-root`), 200, "vault metadata");

  // ---- Every path that reveals or uses the value, each once.
  const read = await agent("GET", secretsPath("default", "aws/prod-root"), undefined, { "x-coffer-tool": "shell" });
  assert.equal(read.status, 200);
  assert.deepEqual(read.body.data, aws.data, "the thief gets the decoy as if it were real");
  await must(agent("POST", `${WS}/secret-reads`, { names: ["github/deploy", "plain"] }), 200, "batch read");
  const ran = await cli(["run", "--secret", "github/deploy", "--", process.execPath, "-e", "process.exit(process.env.GITHUB_DEPLOY ? 0 : 3)"], server.url, minted.token);
  assert.equal(ran.code, 0, ran.stderr);
  const exported = await cli(["export", "--format", "json", "--prefix", "aws/"], server.url, minted.token);
  assert.equal(exported.code, 0, exported.stderr);
  const relayed = await agent("POST", `${WS}/relay`, { method: "GET", url: `${receiver.url}/anything`, headers: { Authorization: "Bearer @{vault.openai/billing}" } });
  assert.equal(relayed.status, 200, JSON.stringify(relayed.body));
  await must(agent("POST", `${secretsPath("default", "signing/webhooks")}/hmac`, { message: "hello" }), 200, "hmac");
  const vault = await agent("GET", "/v1/secret/data/aws/prod-root", undefined, { "x-coffer-agent": "claimed-name" });
  assert.equal(vault.status, 200, JSON.stringify(vault.body));

  // Seven triggers: read, batch read, run, export, relay, hmac, vault read.
  const expected = 7;
  const alerts = async () => (await must(admin("GET", `${WS}/alerts`), 200, "alerts")).alerts.filter((alert: { type: string }) => alert.type === "canary.triggered");
  await waitFor(async () => (await alerts()).length >= expected, "the canary alerts");
  const raised = await alerts();
  assert.equal(raised.length, expected, JSON.stringify(raised.map((alert: any) => alert.details.route)));
  const by = (secretName: string, use: string) => raised.filter((alert: any) => alert.details.secretName === secretName && alert.details.use === use);
  assert.equal(by("aws/prod-root", "read").length, 3, "native read, export, vault read");
  assert.equal(by("github/deploy", "read").length, 2, "batch read and run");
  assert.equal(by("openai/billing", "relay").length, 1);
  assert.equal(by("signing/webhooks", "hmac").length, 1);
  for (const alert of raised) {
    assert.equal(alert.details.severity, "high");
    assert.equal(alert.details.actorName, "agent");
    assert.equal(alert.details.actorKind, "service_account");
    assert.match(alert.details.tokenId, /^tok_/);
    assert.equal(alert.details.tokenAgent, "planner");
    assert.equal(alert.details.tokenSession, "run-7");
    assert.equal(alert.details.ip, "127.0.0.1");
    assert.match(alert.message, /^canary secret '.+' was .+ by agent \(agent planner\) from 127\.0\.0\.1$/);
  }
  assert.equal(raised.find((alert: any) => alert.details.route.startsWith("GET /v1/")).details.claimedAgent, "claimed-name");
  assert.equal(raised.find((alert: any) => alert.details.claimedTool === "shell").details.route, "GET /api/v1/workspaces/:workspace/secrets/:secret");
  for (const alert of raised) {
    for (const value of [aws.data.access_key_id, aws.data.secret_access_key, openai.data.value, github.data.value]) {
      assert.ok(!JSON.stringify(alert).includes(value), "an alert never holds the value");
    }
  }

  // The webhook hears each one, signed as every delivery is.
  await waitFor(async () => receiver.received.filter((got) => got.url === "/hook").length >= expected, "the canary webhooks");
  const hooks = receiver.received.filter((got) => got.url === "/hook");
  assert.equal(hooks.length, expected);
  for (const hook of hooks) {
    assert.equal(hook.headers["coffer-event"], "canary.triggered");
    const body = JSON.parse(hook.body.toString());
    assert.equal(body.details.severity, "high");
    assert.equal(body.details.tokenAgent, "planner");
  }

  // The audit log marks each: a canary.triggered event beside the request's own, with its request id.
  const events = (await must(admin("GET", "/api/v1/audit?action=canary.triggered&limit=100"), 200, "audit")).events;
  assert.equal(events.length, expected);
  for (const event of events) {
    assert.equal(event.actor.name, "agent");
    assert.equal(event.ip, "127.0.0.1");
    assert.match(event.subject, /^use=(read|relay|hmac) agent=planner session=run-7/);
    const sameRequest = (await must(admin("GET", `/api/v1/audit?requestId=${encodeURIComponent(event.requestId)}`), 200, "audit by request")).events;
    assert.ok(sameRequest.some((other: { action: string }) => other.action !== "canary.triggered"), `the request's own event is beside ${event.requestId}`);
  }
});
