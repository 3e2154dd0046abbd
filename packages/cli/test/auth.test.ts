import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { createMember, fixture, ok, run, runPty, tempDir } from "./support/cli.ts";

const PASSWORD = "correct horse battery staple";

test("login on a terminal hides the password, saves the session 0600; whoami and logout use it", async (t) => {
  const f = await fixture(t);
  await createMember(f, "alice", PASSWORD);
  const configDir = join(tempDir(), "nested", "coffer");
  const env = { COFFER_CONFIG_DIR: configDir };

  const login = await runPty(
    ["login", "--addr", f.server.url],
    [
      { expect: "Username for .*: ", send: "alice\r" },
      { expect: "Password: ", send: PASSWORD + "\r" },
    ],
    env,
  );
  assert.equal(login.status, 0, login.output);
  assert.match(login.output, /alice\r?\n/, "the username is echoed as typed");
  assert.ok(!login.output.includes(PASSWORD), `the password is never echoed:\n${login.output}`);
  assert.ok(!login.output.includes("*".repeat(4)), "not even as asterisks");
  assert.match(login.output, /Logged in to .* as alice/);

  const file = join(configDir, "config.json");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(configDir).mode & 0o777, 0o700);
  const saved = JSON.parse(readFileSync(file, "utf8"));
  assert.equal(saved.addr, f.server.url);
  assert.equal(saved.workspace, "default");
  assert.match(saved.token, /^cft_/);

  const whoami = ok(await run(["whoami", "--json"], { env }));
  const me = JSON.parse(whoami.stdout);
  assert.equal(me.username, "alice");
  assert.equal(me.tokenSource, "login");
  assert.equal(me.token.kind, "session");
  assert.match(ok(await run(["whoami"], { env })).stdout, /user\s+alice/);

  const logout = ok(await run(["logout"], { env }));
  assert.match(logout.stderr, /Logged out/);
  assert.equal(JSON.parse(readFileSync(file, "utf8")).token, undefined, "the token is forgotten");
  const after = await run(["whoami"], { env });
  assert.equal(after.code, 3);
  assert.match(after.stderr, /not logged in to .*coffer login/);
  // The session was revoked on the server, not only forgotten.
  const reused = await run(["whoami"], { env: { COFFER_ADDR: f.server.url, COFFER_TOKEN: saved.token, COFFER_CONFIG_DIR: configDir } });
  assert.equal(reused.code, 3);
  assert.match(reused.stderr, /UNAUTHENTICATED/);
});

test("login reads username and password from stdin when it is not a terminal; a wrong password exits 3", async (t) => {
  const f = await fixture(t);
  await createMember(f, "bob", PASSWORD);
  const env = { COFFER_CONFIG_DIR: join(tempDir(), "config"), COFFER_ADDR: f.server.url };
  const wrong = await run(["login"], { env, input: "bob\nnot the password\n" });
  assert.equal(wrong.code, 3);
  assert.match(wrong.stderr, /login failed: wrong username or password \(UNAUTHENTICATED\)/);
  ok(await run(["login", "--username", "bob"], { env, input: PASSWORD + "\n" }));
  assert.equal(JSON.parse(ok(await run(["whoami", "--json"], { env })).stdout).username, "bob");
  const empty = await run(["login", "--username", "bob"], { env, input: "" });
  assert.equal(empty.code, 2);
});

test("COFFER_TOKEN, COFFER_WORKSPACE override the file; a saved token is never sent to another address", async (t) => {
  const f = await fixture(t);
  await createMember(f, "carol", PASSWORD);
  const configDir = join(tempDir(), "config");
  ok(await run(["login", "--addr", f.server.url, "--username", "carol"], { env: { COFFER_CONFIG_DIR: configDir }, input: PASSWORD + "\n" }));
  const env = { COFFER_CONFIG_DIR: configDir };

  const asAdmin = JSON.parse(ok(await run(["whoami", "--json"], { env: { ...env, COFFER_TOKEN: f.admin.COFFER_TOKEN } })).stdout);
  assert.equal(asAdmin.tokenSource, "COFFER_TOKEN");
  assert.equal(asAdmin.token.name, "bootstrap");
  assert.equal(JSON.parse(ok(await run(["whoami", "--json"], { env: { ...env, COFFER_WORKSPACE: "elsewhere" } })).stdout).workspace, "elsewhere");

  // Another address: the saved session is not offered to it.
  const elsewhere = await run(["whoami"], { env: { ...env, COFFER_ADDR: "http://127.0.0.1:1" } });
  assert.equal(elsewhere.code, 3);
  assert.match(elsewhere.stderr, /not logged in to http:\/\/127\.0\.0\.1:1/);
  // With a token, an unreachable server is exit 7.
  const unreachable = await run(["secrets", "list"], { env: { ...env, COFFER_ADDR: "http://127.0.0.1:1", COFFER_TOKEN: "cft_x" } });
  assert.equal(unreachable.code, 7);
  assert.match(unreachable.stderr, /cannot reach the server at http:\/\/127\.0\.0\.1:1/);

  // workspace use checks the name, saves it; unknown names exit 5.
  const unknown = await run(["workspace", "use", "nope"], { env });
  assert.equal(unknown.code, 5);
  assert.match(unknown.stderr, /workspace 'nope' was not found/);
  ok(await run(["workspace", "use", "default"], { env }));
  assert.equal(ok(await run(["workspace", "current"], { env })).stdout, "default\n");
  assert.equal(statSync(join(configDir, "config.json")).mode & 0o777, 0o600, "rewrites keep the mode");
});

test("every command explains itself with --help, with an example", async () => {
  const commands = [
    ["login"], ["logout"], ["whoami"], ["workspace"], ["secrets"], ["secrets", "list"], ["secrets", "get"], ["secrets", "set"], ["secrets", "rm"],
    ["secrets", "history"], ["secrets", "rollback"], ["secrets", "share"], ["run"], ["inject"], ["export"], ["import"],
    ["tokens"], ["tokens", "create"], ["tokens", "list"], ["tokens", "revoke"], ["users"], ["users", "create"], ["groups"], ["members"], ["operator"],
  ];
  const results = await Promise.all(commands.map((command) => run([...command, "--help"])));
  results.forEach((result, i) => {
    assert.equal(result.code, 0, `${commands[i]!.join(" ")} --help: ${result.stderr}`);
    assert.match(result.stdout, /Usage: coffer/, commands[i]!.join(" "));
    assert.match(result.stdout, /Example|coffer \w+ <command>/, `${commands[i]!.join(" ")} --help shows an example or the subcommands`);
  });
  const top = ok(await run(["--help"]));
  assert.match(top.stdout, /Exit codes:[\s\S]*3 not logged in[\s\S]*4 access denied[\s\S]*5 not found/);
});

test("a login answered 429 fails at once with the Retry-After in the message, instead of waiting it out", async (t) => {
  // A server that always throttles, with a wait no test could sit through: the SDK's default would wait 3 × 60 s.
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(429, { "content-type": "application/json", "retry-after": "600" });
    response.end(JSON.stringify({ error: { code: "RATE_LIMITED", message: "too many failed logins; retry after 600 s", requestId: "req_1" } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const addr = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const started = Date.now();
  const refused = await run(["login", "--addr", addr, "--username", "dave"], { env: { COFFER_CONFIG_DIR: join(tempDir(), "config") }, input: "pw\n" });
  assert.ok(Date.now() - started < 20_000, "no wait before failing");
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr.trim(), "coffer: login refused for now: too many failed logins; try again in 600 s (RATE_LIMITED)");
  assert.deepEqual(requests, ["POST /api/v1/auth/login"], "one attempt, no retry");
});

test("the real login throttle: after five wrong passwords the next login fails fast, saying when to try again", async (t) => {
  const f = await fixture(t);
  await createMember(f, "erin", PASSWORD);
  const env = { COFFER_CONFIG_DIR: join(tempDir(), "config"), COFFER_ADDR: f.server.url };
  for (let i = 0; i < 5; i++) {
    const response = await fetch(`${f.server.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "erin", password: "wrong" }) });
    assert.equal(response.status, 401);
  }
  const refused = await run(["login", "--username", "erin"], { env, input: PASSWORD + "\n" });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^coffer: login refused for now: too many failed logins; try again in \d+ s \(RATE_LIMITED\)$/m);
});
