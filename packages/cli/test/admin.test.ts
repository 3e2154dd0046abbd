import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { fixture, ok, run, runPty, tempDir } from "./support/cli.ts";

test("tokens create (scoped, with a ttl), list and revoke", async (t) => {
  const f = await fixture(t);
  ok(await f.coffer(["secrets", "set", "OPENAI_KEY"], { input: "sk-1\n" }));
  ok(await f.coffer(["secrets", "set", "OTHER"], { input: "o\n" }));
  const created = ok(await f.coffer(["tokens", "create", "--name", "ci", "--secrets", "OPENAI_*", "--access", "read", "--ttl", "30m"]));
  const token = created.stdout.trim();
  assert.match(token, /^cft_\w+$/, "stdout is the token alone");
  assert.match(created.stderr, /Created api token tok_\w+ 'ci': access read on OPENAI_\*, expires .* It is shown once/);
  const scoped = { COFFER_TOKEN: token };
  assert.equal(ok(await f.coffer(["secrets", "get", "OPENAI_KEY", "value"], { env: scoped })).stdout, "sk-1");
  assert.equal((await f.coffer(["secrets", "get", "OTHER"], { env: scoped })).code, 5, "outside the token's patterns");
  assert.equal((await f.coffer(["secrets", "set", "OPENAI_KEY"], { env: scoped, input: "x\n" })).code, 4, "read-only");

  const listed = JSON.parse(ok(await f.coffer(["tokens", "list", "--json"])).stdout) as { id: string; name: string; expiresAt: string | null }[];
  const ci = listed.find((row) => row.name === "ci")!;
  const minutes = (Date.parse(ci.expiresAt!) - Date.now()) / 60_000;
  assert.ok(minutes > 28 && minutes <= 30, `expires in ~30 minutes, not ${minutes}`);
  assert.match(ok(await f.coffer(["tokens", "list"])).stdout, /^ID\s+NAME\s+KIND\s+ACCESS\s+WORKSPACE\s+SECRETS\s+EXPIRES\s+RELAY CAP\s+LABELS$/m);

  const child = JSON.parse(ok(await f.coffer(["tokens", "create", "--child", "--ttl", "60", "--json"], { env: scoped })).stdout);
  assert.equal(child.info.kind, "child");
  ok(await f.coffer(["tokens", "revoke", ci.id]));
  for (const revoked of [token, child.token]) {
    const refused = await f.coffer(["whoami"], { env: { COFFER_TOKEN: revoked } });
    assert.equal(refused.code, 3, "revoking a token revokes its children");
  }
  const badTtl = await f.coffer(["tokens", "create", "--ttl", "soon"]);
  assert.equal(badTtl.code, 2);
  assert.match(badTtl.stderr, /--ttl takes seconds or a duration such as 30m/);
  assert.equal((await f.coffer(["tokens", "revoke", "tok_nope"])).code, 5);
});

test("users, members and groups: create with a hidden password prompt, disable, enable, roles", async (t) => {
  const f = await fixture(t);
  const password = "erin's long passphrase";
  const created = await runPty(
    ["users", "create", "erin"],
    [
      { expect: "Password for erin: ", send: password + "\r" },
      { expect: "Repeat it: ", send: password + "\r" },
    ],
    f.admin,
  );
  assert.equal(created.status, 0, created.output);
  assert.ok(!created.output.includes(password), "the password is not echoed");
  const mismatch = await runPty(
    ["users", "create", "frank"],
    [
      { expect: "Password for frank: ", send: "one password\r" },
      { expect: "Repeat it: ", send: "another one\r" },
    ],
    f.admin,
  );
  assert.notEqual(mismatch.status, 0);
  assert.match(mismatch.output, /the passwords differ/);

  ok(await f.coffer(["members", "set", "erin", "viewer"]));
  const members = JSON.parse(ok(await f.coffer(["members", "list", "--json"])).stdout) as { username: string; role: string }[];
  assert.deepEqual(members.map((m) => [m.username, m.role]), [["admin", "owner"], ["erin", "viewer"]]);
  assert.equal((await f.coffer(["members", "set", "erin", "emperor"])).code, 2);

  const erin = { COFFER_ADDR: f.server.url, COFFER_CONFIG_DIR: join(tempDir(), "erin") };
  ok(await run(["login", "--username", "erin"], { env: erin, input: password + "\n" }));
  ok(await run(["secrets", "list"], { env: erin }));
  ok(await f.coffer(["users", "disable", "erin"]));
  assert.match(ok(await f.coffer(["users", "list"])).stdout, /^erin\s+no\s+disabled/m);
  assert.equal((await run(["secrets", "list"], { env: erin })).code, 3, "a disabled user's session stops at once");
  ok(await f.coffer(["users", "enable", "erin"]));
  ok(await run(["login", "--username", "erin"], { env: erin, input: password + "\n" }));

  // The bootstrap administrator gets a password this way, then logs in like anyone.
  const adminPassword = "the admin's long passphrase";
  const passwd = await runPty(
    ["users", "passwd", "admin"],
    [
      { expect: "New password for admin: ", send: adminPassword + "\r" },
      { expect: "Repeat it: ", send: adminPassword + "\r" },
    ],
    f.admin,
  );
  assert.equal(passwd.status, 0, passwd.output);
  assert.ok(!passwd.output.includes(adminPassword), "the password is not echoed");
  const adminLogin = { COFFER_ADDR: f.server.url, COFFER_CONFIG_DIR: join(tempDir(), "admin") };
  ok(await run(["login", "--username", "admin"], { env: adminLogin, input: adminPassword + "\n" }));
  assert.match(ok(await run(["whoami"], { env: adminLogin })).stdout, /admin/);

  ok(await f.coffer(["groups", "create", "ops"]));
  ok(await f.coffer(["groups", "add", "ops", "user:erin"]));
  const groups = JSON.parse(ok(await f.coffer(["groups", "list", "--json"])).stdout) as { name: string; members: string[] }[];
  assert.deepEqual(groups.find((g) => g.name === "ops")?.members, ["user:erin"]);
  ok(await f.coffer(["groups", "remove", "ops", "user:erin"]));
  assert.equal((await f.coffer(["groups", "add", "nope", "user:erin"])).code, 5);
  const viewerDenied = await run(["groups", "create", "mine"], { env: erin });
  assert.equal(viewerDenied.code, 4);
  assert.match(viewerDenied.stderr, /access denied: .*\(ACCESS_DENIED\)/);
  ok(await f.coffer(["members", "remove", "erin"]));
  assert.equal((await f.coffer(["members", "remove", "erin"])).code, 5);
});
