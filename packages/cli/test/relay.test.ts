/**
 * `coffer relay`, `coffer relay-routes` and `coffer secrets policy` as child
 * processes against a real server and a local upstream that echoes the
 * credential back: the CLI's output shows the placeholder, never the value.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startUpstream } from "../../sdk/test/support/upstream.ts";
import { createMember, fixture, ok, run, tempDir, type Result } from "./support/cli.ts";

const VALUE = `sk-cli-relay-${Math.random().toString(36).slice(2, 12)}`;
const PLACEHOLDER = "@{vault.openai/api-key}";
const AUTH = `Authorization: Bearer ${PLACEHOLDER}`;

function noValue(result: Result): Result {
  assert.ok(!result.stdout.includes(VALUE) && !result.stderr.includes(VALUE), `a value was printed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

test("secrets policy shows, sets and clears a relay policy; every command has --help", async (t) => {
  const f = await fixture(t);
  ok(await f.coffer(["secrets", "set", "openai/api-key"], { input: VALUE }));
  const none = ok(await f.coffer(["secrets", "policy", "openai/api-key"]));
  assert.match(none.stdout, /has no relay policy: it cannot be relayed/);

  const saved = ok(await f.coffer(["secrets", "policy", "openai/api-key", "--host", "api.openai.com", "--host", "*.openai.com", "--header", "Authorization", "--method", "post"]));
  assert.match(saved.stderr, /Saved the relay policy/);
  assert.match(saved.stdout, /^hosts\s+api\.openai\.com, \*\.openai\.com$/m);
  assert.match(saved.stdout, /^methods\s+POST$/m);
  assert.match(saved.stdout, /^schemes\s+https$/m, "defaults are shown");
  assert.deepEqual(JSON.parse(ok(await f.coffer(["secrets", "policy", "openai/api-key", "--json"])).stdout), {
    hosts: ["api.openai.com", "*.openai.com"],
    schemes: ["https"],
    ports: [],
    methods: ["POST"],
    headers: ["Authorization"],
    query: [],
    body: false,
    addresses: [],
  });

  const noHost = await f.coffer(["secrets", "policy", "openai/api-key", "--header", "X-Key"]);
  assert.equal(noHost.code, 2);
  assert.match(noHost.stderr, /at least one --host/);
  const badPort = await f.coffer(["secrets", "policy", "openai/api-key", "--host", "a.example", "--port", "http"]);
  assert.equal(badPort.code, 2);

  // A member with no grant cannot change it.
  await createMember(f, "mallory", "mallory-password-1");
  const mallory = await loginToken(f.server.url, "mallory", "mallory-password-1");
  const denied = await run(["secrets", "policy", "openai/api-key", "--host", "evil.example"], { env: { COFFER_ADDR: f.server.url, COFFER_TOKEN: mallory } });
  assert.equal(denied.code, 5, "a secret not shared with her is not found");

  ok(await f.coffer(["secrets", "policy", "openai/api-key", "--clear"]));
  assert.match(ok(await f.coffer(["secrets", "policy", "openai/api-key"])).stdout, /no relay policy/);

  for (const args of [["relay", "--help"], ["relay-routes", "--help"], ["relay-routes", "set", "--help"], ["relay-routes", "list", "--help"], ["relay-routes", "delete", "--help"], ["secrets", "policy", "--help"], ["tokens", "create", "--help"]]) {
    const help = ok(await f.coffer(args));
    assert.match(help.stdout, /Usage: coffer/, args.join(" "));
    assert.match(help.stdout, /Examples?:/, args.join(" "));
  }
  assert.match(ok(await f.coffer(["--help"])).stdout, /relay-routes {2}Base-URL routes/);
});

test("coffer relay: curl-like output with placeholders only; -i, -d @file, -d @-, streams, refusals and --fail", async (t) => {
  const f = await fixture(t);
  const upstream = await startUpstream(t);
  const dir = tempDir();
  ok(await f.coffer(["secrets", "set", "openai/api-key"], { input: VALUE }));
  ok(await f.coffer(["secrets", "policy", "openai/api-key", "--host", "127.0.0.1", "--scheme", "http", "--port", String(upstream.port), "--header", "Authorization", "--query", "key", "--body", "--address", "127.0.0.1"]));
  // The agent holds a `use` token: it can have Coffer use the key, never read it.
  const minted = ok(await f.coffer(["tokens", "create", "--name", "agent", "--access", "use", "--label", "agent=cli-bot", "--relay-cap", "50"]));
  const agentToken = minted.stdout.trim();
  const agent = (args: string[], options: Parameters<typeof run>[1] = {}) => run(args, { ...options, env: { COFFER_ADDR: f.server.url, COFFER_TOKEN: agentToken, COFFER_CONFIG_DIR: join(dir, "agent"), ...options.env } });
  assert.equal((await agent(["secrets", "get", "openai/api-key"])).code, 4, "the agent cannot read the value");

  const plain = noValue(ok(await agent(["relay", "POST", `${upstream.url}/echo?key=${PLACEHOLDER}`, "-H", AUTH, "-d", `token=${PLACEHOLDER}`])));
  const echoed = JSON.parse(plain.stdout) as { authorization: string; body: string; method: string };
  assert.deepEqual([echoed.method, echoed.authorization, echoed.body], ["POST", `Bearer ${PLACEHOLDER}`, `token=${PLACEHOLDER}`]);
  const seen = upstream.received.at(-1)!;
  assert.equal(seen.headers.authorization, `Bearer ${VALUE}`, "the upstream got the value");
  assert.equal(seen.body, `token=${VALUE}`);

  // -i: the status line and headers, then the body, as curl -i prints them.
  const included = noValue(ok(await agent(["relay", "GET", `${upstream.url}/echo`, "-H", AUTH, "-i"])));
  assert.match(included.stdout, /^HTTP\/1\.1 200\r\n/);
  assert.match(included.stdout, /^content-type: application\/json\r$/m);
  assert.match(included.stdout, /^x-echo-authorization: Bearer @\{vault\.openai\/api-key\}\r$/m);
  assert.match(included.stdout, /\r\n\r\n\{"method":"GET"/);

  // -d @file and -d @- (stdin, sent as is).
  writeFileSync(join(dir, "body.json"), JSON.stringify({ key: PLACEHOLDER }));
  const fromFile = noValue(ok(await agent(["relay", "PUT", `${upstream.url}/echo`, "-H", AUTH, "-H", "Content-Type: application/json", "-d", `@${join(dir, "body.json")}`])));
  assert.equal(JSON.parse(fromFile.stdout).body, JSON.stringify({ key: PLACEHOLDER }));
  assert.equal(upstream.received.at(-1)!.headers["content-type"], "application/json");
  const fromStdin = noValue(ok(await agent(["relay", "POST", `${upstream.url}/echo`, "-H", AUTH, "-d", "@-"], { input: `line ${PLACEHOLDER}\n` })));
  assert.equal(JSON.parse(fromStdin.stdout).body, `line ${PLACEHOLDER}\n`);

  // A stream is printed as it arrives: the upstream holds its second event until the first was printed.
  const streamed = noValue(
    ok(
      await agent(["relay", "GET", `${upstream.url}/stream`, "-H", AUTH], {
        started: (child) => child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("data: first") && upstream.release()),
      }),
    ),
  );
  assert.equal(streamed.stdout, `data: first\n\ndata: Bearer ${PLACEHOLDER}\n\ndata: [DONE]\n\n`);

  // Upstream errors are answers (exit 0) unless --fail.
  const failed = ok(await agent(["relay", "GET", `${upstream.url}/status/503`, "-H", AUTH]));
  assert.equal(failed.stdout, "upstream says 503");
  const strict = await agent(["relay", "GET", `${upstream.url}/status/503`, "-H", AUTH, "--fail"]);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /upstream answered 503/);

  // Refusals: nothing is sent, the server's reason is printed, the exit code says which.
  const before = upstream.received.length;
  const elsewhere = noValue(await agent(["relay", "GET", `http://localhost:${upstream.port}/echo`, "-H", AUTH]));
  assert.equal(elsewhere.code, 4);
  assert.match(elsewhere.stderr, /relay refused, nothing was sent: .*localhost.*\(DESTINATION_NOT_ALLOWED\)/);
  assert.equal(elsewhere.stdout, "");
  const wrongPlace = await agent(["relay", "GET", `${upstream.url}/echo`, "-H", `X-Key: ${PLACEHOLDER}`]);
  assert.equal(wrongPlace.code, 4);
  assert.match(wrongPlace.stderr, /DESTINATION_NOT_ALLOWED/);
  const missing = await agent(["relay", "GET", `${upstream.url}/echo`, "-H", "Authorization: Bearer @{vault.nope}"]);
  assert.equal(missing.code, 5);
  assert.equal(upstream.received.length, before, "no refused call reached the upstream");

  const badHeader = await agent(["relay", "GET", `${upstream.url}/echo`, "-H", "no colon here"]);
  assert.equal(badHeader.code, 2);
  assert.equal((await agent(["relay", "GET", "ftp://example.com/"])).code, 2);

  // The token's labels and cap are listed.
  const tokens = ok(await f.coffer(["tokens", "list"]));
  assert.match(tokens.stdout, /RELAY CAP/);
  assert.match(tokens.stdout, /50\/h\s+agent=cli-bot/);
});

test("coffer relay-routes: admins set and delete, members list; templates hold placeholders only", async (t) => {
  const f = await fixture(t);
  const upstream = await startUpstream(t);
  ok(await f.coffer(["secrets", "set", "openai/api-key"], { input: VALUE }));
  ok(await f.coffer(["secrets", "policy", "openai/api-key", "--host", "127.0.0.1", "--scheme", "http", "--port", String(upstream.port), "--header", "Authorization", "--address", "127.0.0.1"]));
  assert.match(ok(await f.coffer(["relay-routes", "list"])).stdout, /no relay routes in workspace 'default'/);
  const saved = noValue(ok(await f.coffer(["relay-routes", "set", "fake-openai", "--target", upstream.url, "-H", AUTH, "--description", "local fake"])));
  assert.match(saved.stderr, new RegExp(`Saved relay route 'fake-openai' → ${upstream.url}\\. Base URL: ${f.server.url}/relay/default/fake-openai`));
  const listed = noValue(ok(await f.coffer(["relay-routes", "list"])));
  assert.match(listed.stdout, /^fake-openai\s+http:\/\/127\.0\.0\.1:\d+\s+Authorization: Bearer @\{vault\.openai\/api-key\}\s+.*local fake$/m);
  const json = JSON.parse(ok(await f.coffer(["relay-routes", "list", "--json"])).stdout) as { name: string; headers: Record<string, string> }[];
  assert.deepEqual(json.map((r) => [r.name, r.headers]), [["fake-openai", { Authorization: `Bearer ${PLACEHOLDER}` }]]);

  // The route works with a Coffer token as the API key.
  const proxied = await fetch(`${f.server.url}/relay/default/fake-openai/echo`, { headers: { authorization: `Bearer ${f.admin.COFFER_TOKEN}` } });
  assert.equal(((await proxied.json()) as { authorization: string }).authorization, `Bearer ${PLACEHOLDER}`);
  assert.equal(upstream.received.at(-1)!.headers.authorization, `Bearer ${VALUE}`);

  // A member lists, but neither sets nor deletes.
  await createMember(f, "bob", "bob-password-1");
  const bobToken = await loginToken(f.server.url, "bob", "bob-password-1");
  const bob = (args: string[]) => run(args, { env: { COFFER_ADDR: f.server.url, COFFER_TOKEN: bobToken } });
  assert.match(ok(await bob(["relay-routes", "list"])).stdout, /fake-openai/);
  assert.equal((await bob(["relay-routes", "set", "other", "--target", upstream.url])).code, 4);
  assert.equal((await bob(["relay-routes", "delete", "fake-openai"])).code, 4);

  const noTarget = await f.coffer(["relay-routes", "set", "x"]);
  assert.equal(noTarget.code, 2);
  ok(await f.coffer(["relay-routes", "delete", "fake-openai"]));
  assert.match(ok(await f.coffer(["relay-routes", "list"])).stdout, /no relay routes/);
});

async function loginToken(addr: string, username: string, password: string): Promise<string> {
  const response = await fetch(`${addr}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
  return ((await response.json()) as { token: string }).token;
}
