/**
 * `coffer server --log-format`: text on a terminal (a pseudo-terminal made by
 * util-linux `script`), JSON when stdout is a pipe, and either on request;
 * and what a server that cannot start prints.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { textLine } from "../../server/src/http/log-format.ts";
import { COFFER_BIN, cleanEnv, run, tempDir } from "./support/cli.ts";

/** Starts `coffer server` (through `script` for a terminal), returns what it printed up to its banner and its "listening" log record, then stops it. */
async function serverOutput(t: TestContext, args: string[], options: { terminal?: boolean; env?: Record<string, string> } = {}): Promise<string> {
  const command = [process.execPath, COFFER_BIN, "server", "--listen", "127.0.0.1:0", "--data-dir", tempDir(), ...args];
  const [file, argv] = options.terminal
    ? ["script", ["-qfec", command.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" "), "/dev/null"]]
    : [command[0]!, command.slice(1)];
  // Its own process group, so stopping `script` stops the server under it too.
  const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv(options.env), detached: true });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  };
  t.after(stop);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Listening on" banner and "Server listening at" record within 60 s:\n${output}`)), 60_000);
    child.stdout.on("data", () => {
      // The banner and the log record go out through different writers: wait for both.
      if (/Listening on http/.test(output) && /Server listening at http/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  stop();
  return output.replaceAll("\r\n", "\n");
}

const scriptMissing = spawnSync("script", ["--version"]).error ? "util-linux `script` is not installed (it makes the terminal)" : false;

test("on a terminal the server prints its banner and text log lines, no JSON", { skip: scriptMissing }, async (t) => {
  const output = await serverOutput(t, [], { terminal: true });
  assert.match(output, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  Server listening at http:\/\/127\.0\.0\.1:\d+$/m);
  assert.match(output, /^Coffer http:\/\/127\.0\.0\.1:\d+$/m);
  assert.match(output, /^ {2}store {5}sqlite /m);
  assert.doesNotMatch(output, /^\{/m, "no line is a JSON record");
});

test("when stdout is not a terminal the log lines are JSON records", async (t) => {
  const output = await serverOutput(t, []);
  const records = output.split("\n").filter((line) => line.startsWith("{"));
  assert.ok(records.length >= 1, output);
  for (const line of records) {
    const record = JSON.parse(line) as { level: number; msg: string; time: number };
    assert.equal(typeof record.time, "number");
  }
  assert.ok(records.some((line) => /"msg":"Server listening at http/.test(line)));
  assert.match(output, /^Listening on http/m, "the banner is still there for the harness that reads it");
});

test("--log-format and COFFER_LOG_FORMAT override the default either way", { skip: scriptMissing }, async (t) => {
  assert.match(await serverOutput(t, ["--log-format", "json"], { terminal: true }), /^\{"level":30,.*"msg":"Server listening at/m);
  assert.match(await serverOutput(t, [], { terminal: true, env: { COFFER_LOG_FORMAT: "json" } }), /^\{"level":30,/m);
  const text = await serverOutput(t, ["--log-format", "text"]);
  assert.match(text, /Z INFO  Server listening at http/);
  assert.doesNotMatch(text, /^\{/m);
});

test("an unknown --log-format is a usage error, and --help explains the option", async () => {
  const bad = await run(["server", "--log-format", "xml"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--log-format takes text or json \(got 'xml'\)/);
  const help = await run(["server", "--help"]);
  assert.match(help.stdout, /--log-format FORMAT +text .* or json/);
  assert.match(help.stdout, /default: text when stdout is a terminal, else json/);
});

test("a text line carries every field of the record, nested ones flattened, and an error's stack below it", () => {
  const record = {
    level: 50,
    time: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    pid: 1,
    hostname: "h",
    reqId: "req_1",
    req: { method: "GET", url: "/api/v1/x" },
    note: "two words",
    err: { type: "Error", message: "boom", stack: "Error: boom\n    at here (x.ts:1:1)" },
    msg: "request failed",
  };
  assert.equal(
    textLine(JSON.stringify(record)),
    '2026-01-02T03:04:05.678Z ERROR request failed reqId=req_1 req.method=GET req.url=/api/v1/x note="two words"\n    Error: boom\n    at here (x.ts:1:1)\n',
  );
  assert.equal(textLine("not json"), "not json\n");
});

test("a server that cannot listen says why in one line, and nothing after it", async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  t.after(() => taken.close());
  const address = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
  const result = await run(["server", "--listen", address, "--data-dir", tempDir()]);
  assert.equal(result.code, 1);
  // Housekeeping starts with the server: it must be over before the store closes, not fail on it.
  assert.equal(`${result.stdout}${result.stderr}`.trim(), `coffer: listen EADDRINUSE: address already in use ${address}`);
});
