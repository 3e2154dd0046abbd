import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createMember, fixture, ok, run, runPty, tempDir } from "./support/cli.ts";

test("secrets set: hidden prompts on a terminal, KEY=-, --from-file, stdin; values in argv only with --insecure-value", async (t) => {
  const f = await fixture(t);
  const dir = tempDir();
  const get = async (name: string, ...extra: string[]) => JSON.parse(ok(await f.coffer(["secrets", "get", name, "--json", ...extra])).stdout).data;

  // No pairs on a terminal: one hidden prompt, stored under 'value'.
  const typed = "typed-at-the-prompt-1";
  const prompted = await runPty(["secrets", "set", "OPENAI_KEY"], [{ expect: "Value for OPENAI_KEY: ", send: typed + "\r" }], f.admin);
  assert.equal(prompted.status, 0, prompted.output);
  assert.ok(!prompted.output.includes(typed), `the value is not echoed:\n${prompted.output}`);
  assert.deepEqual(await get("OPENAI_KEY"), { value: typed });

  // KEY=- prompts for each key, hidden.
  const twoKeys = await runPty(
    ["secrets", "set", "database-config", "username=-", "password=-"],
    [
      { expect: "Value for database-config username: ", send: "app\r" },
      { expect: "Value for database-config password: ", send: "pw-prompted-2\r" },
    ],
    f.admin,
  );
  assert.equal(twoKeys.status, 0, twoKeys.output);
  assert.ok(!twoKeys.output.includes("pw-prompted-2"));
  assert.deepEqual(await get("database-config"), { username: "app", password: "pw-prompted-2" });

  // Not a terminal: one KEY=- takes all of stdin (inner newlines kept, the last one dropped); several take a line each.
  ok(await f.coffer(["secrets", "set", "tls", "key=-"], { input: "-----BEGIN KEY-----\nabc\n-----END KEY-----\n" }));
  assert.deepEqual(await get("tls"), { key: "-----BEGIN KEY-----\nabc\n-----END KEY-----" });
  ok(await f.coffer(["secrets", "set", "database-config", "host=-", "port=-"], { input: "db.internal\n5432\n" }));
  assert.deepEqual(await get("database-config"), { username: "app", password: "pw-prompted-2", host: "db.internal", port: "5432" }, "set merges: other keys stay");

  // No pairs, stdin not a terminal: the value is stdin.
  ok(await f.coffer(["secrets", "set", "PIPED"], { input: "piped-value\n" }));
  assert.deepEqual(await get("PIPED"), { value: "piped-value" });

  // --from-file: dotenv, JSON, and - for stdin; --replace makes them the whole secret.
  writeFileSync(join(dir, "db.env"), '# database\nexport host=db2\npassword="with \\"quotes\\" and # hash"\nempty_not=allowed # comment\n');
  ok(await f.coffer(["secrets", "set", "from-dotenv", "--from-file", join(dir, "db.env")]));
  assert.deepEqual(await get("from-dotenv"), { host: "db2", password: 'with "quotes" and # hash', empty_not: "allowed" });
  writeFileSync(join(dir, "db.json"), JSON.stringify({ host: "db3", password: "json-pw" }));
  ok(await f.coffer(["secrets", "set", "database-config", "--from-file", join(dir, "db.json"), "--replace"]));
  assert.deepEqual(await get("database-config"), { host: "db3", password: "json-pw" });
  ok(await f.coffer(["secrets", "set", "from-stdin", "--from-file", "-"], { input: "A=1\nB=2\n" }));
  assert.deepEqual(await get("from-stdin"), { A: "1", B: "2" });

  // A literal value in argv is refused, says why, names no value, and changes nothing.
  for (const args of [["k=literal-value-xyz"], ["literal-value-xyz"]]) {
    const refused = await f.coffer(["secrets", "set", "argv-secret", ...args]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /refusing .* on the command line: other users see argv in 'ps' and your shell keeps it in its history/);
    assert.match(refused.stderr, /--insecure-value/);
    assert.ok(!refused.stderr.includes("literal-value-xyz"));
  }
  assert.equal((await f.coffer(["secrets", "get", "argv-secret"])).code, 5, "nothing was written");
  ok(await f.coffer(["secrets", "set", "argv-secret", "k=literal-value-xyz", "--insecure-value"]));
  assert.deepEqual(await get("argv-secret"), { k: "literal-value-xyz" });

  const empty = await f.coffer(["secrets", "set", "EMPTY"], { input: "" });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /empty; nothing was changed/);

  const generated = ok(await f.coffer(["secrets", "set", "signing-key", "--type", "HMAC"]));
  assert.match(generated.stderr, /generated value/);
  const key = (await get("signing-key")).value ?? "";
  assert.match(key, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(!generated.stderr.includes(key) && !generated.stdout.includes(key), "the generated value is not shown");
});

test("secrets get, list (tables and --json), history, rollback, rm; personal scope stays apart", async (t) => {
  const f = await fixture(t);
  ok(await f.coffer(["secrets", "set", "payments/stripe", "key=-"], { input: "sk-1\n" }));
  ok(await f.coffer(["secrets", "set", "payments/stripe", "key=-"], { input: "sk-2\n" }));
  ok(await f.coffer(["secrets", "set", "database-config", "host=-", "password=-"], { input: "db\npw\n" }));

  // get NAME KEY: the raw value, no newline on a pipe.
  assert.equal(ok(await f.coffer(["secrets", "get", "payments/stripe", "key"])).stdout, "sk-2");
  const noKey = await f.coffer(["secrets", "get", "payments/stripe", "nokey"]);
  assert.equal(noKey.code, 5);
  assert.match(noKey.stderr, /secret 'payments\/stripe' has no key 'nokey' \(its keys: key\)/);
  const table = ok(await f.coffer(["secrets", "get", "database-config"])).stdout;
  assert.match(table, /^KEY\s+VALUE$/m);
  assert.match(table, /^password\s+pw$/m);
  const json = JSON.parse(ok(await f.coffer(["secrets", "get", "database-config", "--json"])).stdout);
  assert.equal(json.name, "database-config");
  assert.deepEqual(json.data, { host: "db", password: "pw" });
  assert.equal(ok(await f.coffer(["secrets", "get", "payments/stripe", "key", "--version", "1"])).stdout, "sk-1");

  const listed = JSON.parse(ok(await f.coffer(["secrets", "list", "--json"])).stdout);
  assert.deepEqual(listed.map((s: { name: string; keys: string[] }) => [s.name, s.keys]), [["database-config", ["host", "password"]], ["payments/stripe", ["key"]]]);
  assert.ok(!JSON.stringify(listed).includes("sk-2"), "lists never carry values");
  const lines = ok(await f.coffer(["secrets", "list"])).stdout.trimEnd().split("\n");
  assert.match(lines[0]!, /^NAME\s+KEYS\s+TYPE\s+VERSION\s+UPDATED/);
  assert.match(lines[2]!, /^payments\/stripe\s+key\s+USER_DEFINED\s+2\s/);
  assert.equal(lines[1]!.indexOf("host,password"), lines[0]!.indexOf("KEYS"), "columns align");
  assert.deepEqual(JSON.parse(ok(await f.coffer(["secrets", "list", "--prefix", "payments", "--json"])).stdout).map((s: { name: string }) => s.name), ["payments/stripe"]);

  const history = JSON.parse(ok(await f.coffer(["secrets", "history", "payments/stripe", "--json"])).stdout);
  assert.deepEqual(history.map((v: { version: number; current: boolean }) => [v.version, v.current]), [[2, true], [1, false]]);
  assert.match(ok(await f.coffer(["secrets", "history", "payments/stripe"])).stdout, /^VERSION\s+KEYS\s+CREATED\s+BY/);
  const rolled = ok(await f.coffer(["secrets", "rollback", "payments/stripe", "1"]));
  assert.match(rolled.stderr, /Rolled back 'payments\/stripe' to version 1: it is now version 3/);
  assert.equal(ok(await f.coffer(["secrets", "get", "payments/stripe", "key"])).stdout, "sk-1");
  const badVersion = await f.coffer(["secrets", "rollback", "payments/stripe", "9"]);
  assert.equal(badVersion.code, 5);
  assert.match(badVersion.stderr, /VERSION_NOT_FOUND/);
  assert.equal((await f.coffer(["secrets", "rollback", "payments/stripe", "x"])).code, 2);

  // Personal: a secret of the same name, apart from the shared one.
  ok(await f.coffer(["secrets", "set", "database-config", "--personal"], { input: "mine\n" }));
  assert.equal(ok(await f.coffer(["secrets", "get", "database-config", "value", "--personal"])).stdout, "mine");
  assert.equal(ok(await f.coffer(["secrets", "get", "database-config", "password"])).stdout, "pw");
  assert.deepEqual(JSON.parse(ok(await f.coffer(["secrets", "list", "--personal", "--json"])).stdout).map((s: { name: string }) => s.name), ["database-config"]);
  const missingPersonal = await f.coffer(["secrets", "get", "payments/stripe", "--personal"]);
  assert.equal(missingPersonal.code, 5);
  assert.match(missingPersonal.stderr, /secret 'payments\/stripe' not found in workspace 'default' \(personal scope\) \(SECRET_NOT_FOUND\)/);

  ok(await f.coffer(["secrets", "rm", "payments/stripe"]));
  const gone = await f.coffer(["secrets", "get", "payments/stripe"]);
  assert.equal(gone.code, 5);
  assert.equal(gone.stderr, "coffer: secret 'payments/stripe' not found in workspace 'default' (SECRET_NOT_FOUND)\n");
  assert.match(ok(await f.coffer(["secrets", "list", "--prefix", "payments/"])).stdout, /no shared secrets in workspace 'default' under payments\//);
});

test("secrets share: a member reads what is shared with it, is denied what it may not change; errors have their exit codes", async (t) => {
  const f = await fixture(t);
  await createMember(f, "dave", "dave's long password");
  const dave = { COFFER_ADDR: f.server.url, COFFER_CONFIG_DIR: join(tempDir(), "dave") };
  ok(await run(["login", "--username", "dave"], { env: dave, input: "dave's long password\n" }));
  ok(await f.coffer(["secrets", "set", "OPENAI_KEY"], { input: "sk-shared\n" }));

  // Not shared yet: hidden means absent.
  const hidden = await run(["secrets", "get", "OPENAI_KEY", "value"], { env: dave });
  assert.equal(hidden.code, 5);
  assert.match(hidden.stderr, /secret 'OPENAI_KEY' not found in workspace 'default'/);

  ok(await f.coffer(["groups", "create", "devs"]));
  ok(await f.coffer(["groups", "add", "devs", "user:dave"]));
  const shared = ok(await f.coffer(["secrets", "share", "OPENAI_KEY", "--with", "group:devs", "--read"]));
  assert.match(shared.stderr, /Shared 'OPENAI_KEY' with group:devs \(read\)/);
  assert.deepEqual(JSON.parse(ok(await f.coffer(["secrets", "grants", "OPENAI_KEY", "--json"])).stdout).map((g: { subject: string; level: string }) => [g.subject, g.level]), [["group:devs", "read"]]);
  assert.equal(ok(await run(["secrets", "get", "OPENAI_KEY", "value"], { env: dave })).stdout, "sk-shared");

  const denied = await run(["secrets", "set", "OPENAI_KEY", "value=-"], { env: dave, input: "changed\n" });
  assert.equal(denied.code, 4);
  assert.equal(denied.stderr, "coffer: access denied: you may not change secret 'OPENAI_KEY' (ACCESS_DENIED)\n");
  const notAdmin = await run(["users", "list"], { env: dave });
  assert.equal(notAdmin.code, 4);

  ok(await f.coffer(["secrets", "share", "OPENAI_KEY", "--with", "user:dave", "--write"]));
  ok(await run(["secrets", "set", "OPENAI_KEY", "value=-"], { env: dave, input: "changed-by-dave\n" }));
  assert.equal(ok(await f.coffer(["secrets", "get", "OPENAI_KEY", "value"])).stdout, "changed-by-dave");

  const badSubject = await f.coffer(["secrets", "share", "OPENAI_KEY", "--with", "dave"]);
  assert.equal(badSubject.code, 2);
  const unknownUser = await f.coffer(["secrets", "share", "OPENAI_KEY", "--with", "user:nobody"]);
  assert.equal(unknownUser.code, 5);
  ok(await f.coffer(["secrets", "unshare", "OPENAI_KEY", "--with", "group:devs"]));

  const notLoggedIn = await run(["secrets", "list"], { env: { COFFER_CONFIG_DIR: join(tempDir(), "nobody"), COFFER_ADDR: f.server.url } });
  assert.equal(notLoggedIn.code, 3);
  assert.equal(notLoggedIn.stderr, `coffer: not logged in to ${f.server.url}: run 'coffer login', or set COFFER_TOKEN to a token\n`);
  const badToken = await f.coffer(["secrets", "list"], { env: { COFFER_TOKEN: "cft_" + "A".repeat(49) } });
  assert.equal(badToken.code, 3);
  assert.match(badToken.stderr, /run 'coffer login' or set COFFER_TOKEN .*\(UNAUTHENTICATED\)/);
  const usage = await f.coffer(["secrets", "frob"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown command 'coffer secrets frob'/);
});
