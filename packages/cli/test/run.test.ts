import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Masker, MASK } from "../src/mask.ts";
import { cleanEnv, COFFER_BIN, fixture, ok } from "./support/cli.ts";

/** Values whose encoded forms differ from them: '/', '+', '@', a space, non-ASCII. */
const API_KEY = "sk-live/4f9+Qz@x y-ü";
const DB_PASSWORD = "hunter2-pa$$word";

/** A child that prints every injected value plainly, in base64 and URL-encoded, on both streams, and one value split across two writes. */
const PRINTER = `
const v = process.env.API_KEY, p = process.env.DATABASE_CONFIG_PASSWORD;
const out = (s) => new Promise((r) => process.stdout.write(s, r));
(async () => {
  await out("plain " + v + "\\n");
  await out("b64 " + Buffer.from(v).toString("base64") + " url " + encodeURIComponent(v) + "\\n");
  await out("form " + new URLSearchParams({ k: v }).toString() + "\\n");
  await out("split " + p.slice(0, 5));
  await new Promise((r) => setTimeout(r, 150));
  await out(p.slice(5) + " end\\n");
  process.stderr.write("err " + p + " and " + Buffer.from(p).toString("base64") + "\\n");
  console.log("host=" + process.env.DATABASE_CONFIG_HOST + " weird=" + process.env.WEIRD_NAME_V2 + " renamed=" + process.env.PG_PASS);
})();
`;

test("coffer run injects secrets in one request and masks them, encoded or split across writes, on stdout and stderr", async (t) => {
  const f = await fixture(t);
  ok(await f.coffer(["secrets", "set", "API_KEY"], { input: API_KEY + "\n" }));
  ok(await f.coffer(["secrets", "set", "database-config", "host=-", "password=-"], { input: `db.internal\n${DB_PASSWORD}\n` }));
  ok(await f.coffer(["secrets", "set", "weird.name/v2"], { input: "w\n" }));

  const result = ok(await f.coffer(["run", "--secret", "API_KEY", "--secret", "database-config", "--secret", "weird.name/v2", "--", process.execPath, "-e", PRINTER]));
  const all = result.stdout + result.stderr;
  for (const form of [API_KEY, Buffer.from(API_KEY).toString("base64"), encodeURIComponent(API_KEY), DB_PASSWORD, Buffer.from(DB_PASSWORD).toString("base64"), "db.internal"]) {
    assert.ok(!all.includes(form), `'${form}' leaked:\n${all}`);
  }
  assert.match(result.stdout, /^plain \*\*\*\*$/m);
  assert.match(result.stdout, /^b64 \*\*\*\* url \*\*\*\*$/m);
  assert.match(result.stdout, /^form k=\*\*\*\*$/m);
  assert.match(result.stdout, /^split \*\*\*\* end$/m, "a value split across writes is still masked");
  assert.match(result.stderr, /^err \*\*\*\* and \*\*\*\*$/m);
  // A one-character value masks every occurrence of that character: documented, and visible here.
  assert.match(result.stdout, /^host=\*\*\*\* \*\*\*\*eird=\*\*\*\* renamed=undefined$/m);

  // One request for all three: a proxy in front of the server counts them.
  const seen: string[] = [];
  const target = new URL(f.server.url);
  const proxy = createServer((incoming, answer) => {
    seen.push(`${incoming.method} ${incoming.url}`);
    const forwarded = request({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (response) => {
      answer.writeHead(response.statusCode!, response.headers);
      response.pipe(answer);
    });
    incoming.pipe(forwarded);
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  t.after(() => proxy.close());
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  ok(await f.coffer(["run", "--secret", "API_KEY", "--secret", "database-config", "--secret", "weird.name/v2", "--", "true"], { env: { COFFER_ADDR: proxyUrl } }));
  assert.deepEqual(seen, ["POST /api/v1/workspaces/default/secret-reads"]);

  const renamed = ok(await f.coffer(["run", "--secret", "database-config", "--env-name", "database-config.password=PG_PASS", "--", process.execPath, "-e", "console.log(Object.keys(process.env).filter((k) => /^(PG_PASS|DATABASE_CONFIG_)/.test(k)).sort().join(','))"]));
  assert.equal(renamed.stdout, "DATABASE_CONFIG_HOST,PG_PASS\n");
  const prefixed = ok(await f.coffer(["run", "--secret", "database-config", "--env-name", "database-config=PG", "--", process.execPath, "-e", "console.log(process.env.PG_HOST === 'db.internal', process.env.PG_PASSWORD.length)"]));
  assert.equal(prefixed.stdout, "true 16\n");
  const everything = ok(await f.coffer(["run", "--all", "--", process.execPath, "-e", "console.log(['API_KEY','DATABASE_CONFIG_HOST','WEIRD_NAME_V2'].every((k) => k in process.env))"]));
  assert.equal(everything.stdout, "true\n");
  const noMask = ok(await f.coffer(["run", "--no-mask", "--secret", "API_KEY", "--", process.execPath, "-e", "process.stdout.write(process.env.API_KEY)"]));
  assert.equal(noMask.stdout, API_KEY);

  const missing = await f.coffer(["run", "--secret", "API_KEY", "--secret", "nope", "--", "true"]);
  assert.equal(missing.code, 5);
  assert.match(missing.stderr, /secret 'nope' not found in workspace 'default'/);
  assert.equal((await f.coffer(["run", "--secret", "API_KEY"])).code, 2, "no command");
  assert.equal((await f.coffer(["run", "--", "true"])).code, 2, "no secrets named");
  const notFound = await f.coffer(["run", "--secret", "API_KEY", "--", "no-such-command-here"]);
  assert.equal(notFound.code, 127);
  assert.match(notFound.stderr, /command not found: no-such-command-here/);
});

test("coffer run passes the exit code through, forwards SIGTERM, and reports death by signal as 128+N", async (t) => {
  const f = await fixture(t);
  ok(await f.coffer(["secrets", "set", "A"], { input: "alpha\n" }));
  assert.equal((await f.coffer(["run", "--secret", "A", "--", process.execPath, "-e", "process.exit(23)"])).code, 23);
  assert.equal((await f.coffer(["run", "--secret", "A", "--", process.execPath, "-e", "process.kill(process.pid, 'SIGKILL')"])).code, 128 + 9);

  // The child traps SIGTERM and exits 42; SIGTERM goes to coffer, which forwards it.
  const trap = "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(42); }); console.log('ready'); setInterval(() => {}, 1000);";
  const child = spawn(process.execPath, [COFFER_BIN, "run", "--secret", "A", "--", process.execPath, "-e", trap], { env: cleanEnv(f.admin), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await new Promise<void>((resolve) =>
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (stdout.includes("ready")) resolve();
    }),
  );
  child.kill("SIGTERM");
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 42, stderr);
  assert.match(stdout, /got SIGTERM/);
});

test("the masker masks values across every chunk split and holds back only what could start a value", () => {
  const values = ["secret-one", "tw0", "ünï/cødé+"];
  const masker = new Masker(values);
  const forms = (v: string) => [v, Buffer.from(v).toString("base64"), encodeURIComponent(v), Buffer.from(v).toString("base64url")];
  const text = `start ${values.map((v) => forms(v).join(" | ")).join(" ; ")} tail-secret-on`;
  const whole = masker.mask(Buffer.from(text).toString("latin1"), true).out;
  assert.ok(!values.some((v) => forms(v).some((form) => Buffer.from(whole, "latin1").toString().includes(form))), whole);
  assert.ok(whole.endsWith("tail-secret-on"), "a prefix of a value at the very end is not a value");
  const bytes = Buffer.from(text);
  // Every two-way split, and a few three-way ones: the same output.
  for (let cut = 0; cut <= bytes.length; cut++) {
    for (const second of [cut, Math.min(bytes.length, cut + 3), Math.min(bytes.length, cut + 11)]) {
      let kept = "";
      let out = "";
      for (const part of [bytes.subarray(0, cut), bytes.subarray(cut, second), bytes.subarray(second)]) {
        const step = masker.mask(kept + part.toString("latin1"), false);
        out += step.out;
        kept = step.keep;
      }
      out += masker.mask(kept, true).out;
      assert.equal(out, whole, `split at ${cut}/${second}`);
    }
  }
  // Text that cannot start a value is written at once; a possible start waits for the next chunk.
  assert.deepEqual(masker.mask("nothing to hide\n", false), { out: "nothing to hide\n", keep: "" });
  assert.deepEqual(masker.mask("almost secret-o", false), { out: "almost ", keep: "secret-o" });
  assert.deepEqual(masker.mask("almost secret-one", false), { out: `almost ${MASK}`, keep: "" });
  assert.equal(new Masker([""]).empty, true, "empty values mask nothing");
});
