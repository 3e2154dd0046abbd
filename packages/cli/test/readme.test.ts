/**
 * README.md and docs/*.md say only what is true: the README's tour runs as
 * written against a fresh server, every relative link lands on a file (and
 * heading) that exists, every `coffer …` command and flag the pages show is
 * one the CLI's --help knows, and docs/operations.md lists exactly the
 * server's flags. Nothing here reaches the network.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { startServer } from "../../server/test/support/server.ts";
import { tempDir } from "../../server/test/support/stores.ts";
import { COFFER_BIN, cleanEnv } from "./support/cli.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const README = join(ROOT, "README.md");
const DOCS = join(ROOT, "docs");

/** README.md and every page of docs/. */
function pages(): string[] {
  return [README, ...readdirSync(DOCS).filter((name) => name.endsWith(".md")).map((name) => join(DOCS, name))];
}

const read = (file: string) => readFileSync(file, "utf8");
const shown = (file: string) => relative(ROOT, file);

interface Block {
  lang: string;
  code: string;
}

function fencedBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w*)[^\n]*\n([\s\S]*?)^```/gm)].map((match) => ({ lang: match[1]!, code: match[2]! }));
}

/** The text with fenced blocks and inline code taken out: what links and headings are made of. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
}

/** The part of the README from a heading up to the next heading of the same level. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README.md has a section "${heading}"`);
  const level = /^#+/.exec(heading)![0];
  const next = markdown.slice(start + heading.length + 2).search(new RegExp(`^${level} `, "m"));
  return next < 0 ? markdown.slice(start) : markdown.slice(start, start + heading.length + 2 + next);
}

/** GitHub's anchors for a page's headings (lower case, punctuation dropped, spaces to hyphens, repeats numbered). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const match of markdown.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = match[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count ? `${slug}-${count}` : slug);
  }
  return result;
}

/** What a block's lines claim they print: the text after "# → " (shell, Python) or "// → " (TypeScript). */
function claims(code: string): string[] {
  return [...code.matchAll(/(?:#|\/\/) → (.+)$/gm)].map((match) => match[1]!.trim());
}

function runScript(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    // No stdin: the tour must not wait for a prompt.
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

test("the README's tour runs as written: shell, TypeScript and Python against a fresh server", async (t) => {
  const server = await startServer(t, { kind: "sqlite", dataDir: tempDir(), databaseUrl: undefined });
  assert.ok(server.token, "the first start printed the bootstrap token");
  const tour = section(read(README), "## A five-minute tour");
  const blocks = fencedBlocks(tour);
  // The reader's address and token become this server's; nothing else of the text changes.
  const asWritten = (code: string) => code.replaceAll("http://127.0.0.1:8200", server.url).replaceAll("cft_…", server.token!);
  const env = cleanEnv({
    COFFER_CONFIG_DIR: tempDir("coffer-config"),
    // The project's Node 24 first, as under npm; npx must not look for an npm update.
    PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`,
    npm_config_update_notifier: "false",
  });

  const shell = blocks.filter((block) => block.lang === "sh");
  assert.ok(shell.length >= 3, "the tour shows its commands");
  const script = ["set -euo pipefail", ...shell.map((block) => asWritten(block.code))].join("\n");
  const ran = await runScript("bash", ["-c", script], env);
  assert.equal(ran.code, 0, `the tour's commands fail:\n${ran.stdout}\n${ran.stderr}`);
  for (const claim of shell.flatMap((block) => claims(block.code))) assert.ok(ran.stdout.includes(claim), `the tour says "${claim}", the output is:\n${ran.stdout}`);
  assert.doesNotMatch(ran.stdout + ran.stderr, /sk-example/, "coffer run masked the value");

  // The SDK snippets, against the secrets the shell part stored, with COFFER_ADDR and COFFER_TOKEN as the tour exported them.
  const sdkEnv = { ...env, COFFER_ADDR: server.url, COFFER_TOKEN: server.token! };
  const ts = blocks.find((block) => block.lang === "ts");
  assert.ok(ts, "the tour shows the TypeScript SDK");
  const node = await runScript(process.execPath, ["--input-type=module", "-e", ts.code], sdkEnv);
  assert.equal(node.code, 0, node.stderr);
  for (const claim of claims(ts.code)) assert.ok(node.stdout.includes(claim), `the TypeScript snippet says "${claim}", it printed:\n${node.stdout}`);

  const python = blocks.find((block) => block.lang === "python");
  assert.ok(python, "the tour shows the Python client");
  const py = await runScript("python3", ["-c", python.code], { ...sdkEnv, PYTHONPATH: join(ROOT, "clients", "python") });
  assert.equal(py.code, 0, py.stderr);
  for (const claim of claims(python.code)) assert.ok(py.stdout.includes(claim), `the Python snippet says "${claim}", it printed:\n${py.stdout}`);
});

test("the README starts with the two commands, and CI runs the README's test command", () => {
  const readme = read(README);
  const first = fencedBlocks(readme)[0]!;
  assert.equal(first.lang, "sh");
  const commands = first.code.split("\n").map((line) => line.replace(/#.*$/, "").trim()).filter(Boolean);
  assert.deepEqual(commands, ["npm install && npm start", "npm test"]);
  const ci = read(join(ROOT, ".ci", "run"));
  assert.match(ci, /^npm test$/m, ".ci/run runs the README's test command");
  const scripts = JSON.parse(read(join(ROOT, "package.json"))).scripts as Record<string, string>;
  assert.match(scripts.start!, /bin\/coffer\.js server$/, "npm start starts the server with its defaults (the embedded store in ./.coffer), through bin/coffer.js and so with Node's compile cache");
});

test("every relative link in README.md and docs/ points to a file, and a heading, that exist", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of pages()) {
    for (const match of prose(read(file)).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1]!;
      if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:: outside the repository
      checked++;
      const [path, anchor] = target.split("#", 2) as [string, string | undefined];
      const into = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
      if (!existsSync(into)) {
        broken.push(`${shown(file)}: ${target} (no such file)`);
        continue;
      }
      if (anchor && into.endsWith(".md") && !anchors(read(into)).has(anchor)) broken.push(`${shown(file)}: ${target} (no such heading)`);
    }
  }
  assert.ok(checked > 20, `links were found (${checked})`);
  assert.deepEqual(broken, []);
});

/** `coffer …` as the pages show it: in shell blocks (comments dropped) and in inline code. */
function shownCommands(markdown: string): string[] {
  const texts = [
    ...fencedBlocks(markdown)
      .filter((block) => ["sh", "bash", "shell"].includes(block.lang))
      .flatMap((block) => block.code.split("\n").map((line) => line.replace(/(^|\s)#.*$/, ""))),
    ...[...markdown.replace(/^```[\s\S]*?^```/gm, "").matchAll(/`([^`\n]+)`/g)].map((match) => match[1]!),
  ];
  return texts.flatMap((text) => [...text.matchAll(/(?:^|[\s("'=])coffer +([^|;&>)\n]*)/g)].map((match) => match[1]!.trim()));
}

const helpCache = new Map<string, { ok: boolean; text: string }>();
function help(path: string[]): { ok: boolean; text: string } {
  const key = path.join(" ");
  if (!helpCache.has(key)) {
    const result = spawnSync(process.execPath, [COFFER_BIN, ...path, "--help"], { encoding: "utf8", env: cleanEnv(), timeout: 30_000 });
    helpCache.set(key, { ok: result.status === 0, text: result.stdout + result.stderr });
  }
  return helpCache.get(key)!;
}

/** The commands a help text lists: lines "  NAME  description". */
const listed = (text: string, word: string) => new RegExp(`^\\s{2}${word}(\\s|$)`, "m").test(text);

test("every coffer command and flag the pages show exists in the CLI's --help", () => {
  const wrong: string[] = [];
  let checked = 0;
  for (const file of pages()) {
    for (const shownCommand of shownCommands(read(file))) {
      const words = shownCommand.split(/\s+/).map((word) => word.replace(/^\[|\]$/g, ""));
      if (!/^[a-z][a-z-]*$/.test(words[0] ?? "")) continue; // `coffer …`, `coffer <command>`: no command named
      const top = help([]);
      if (!listed(top.text, words[0]!)) {
        wrong.push(`${shown(file)}: coffer ${words[0]} (no such command)`);
        continue;
      }
      const path = [words[0]!];
      if (words[1] && /^[a-z][a-z-]*$/.test(words[1]) && listed(help(path).text, words[1])) path.push(words[1]);
      const texts = [top.text, help([path[0]!]).text, ...(path.length > 1 ? [help(path).text] : [])];
      if (!help(path).ok) wrong.push(`${shown(file)}: coffer ${path.join(" ")} --help fails`);
      checked++;
      for (const word of words.slice(path.length)) {
        if (word === "--") break; // what follows is the command coffer runs
        const flag = /^(--[a-z][a-z-]*)/.exec(word)?.[1];
        if (!flag || flag === "--help") continue;
        if (!texts.some((text) => new RegExp(`(^|[\\s,\\[(])${flag}(?![a-z-])`, "m").test(text))) wrong.push(`${shown(file)}: coffer ${path.join(" ")} ${flag} (not in its --help)`);
      }
    }
  }
  assert.ok(checked > 30, `commands were found (${checked})`);
  assert.deepEqual(wrong, []);
});

test("docs/operations.md lists exactly the server's flags and environment settings", () => {
  const operations = read(join(DOCS, "operations.md"));
  const serverHelp = help(["server"]);
  assert.ok(serverHelp.ok);
  const helpFlags = new Set([...serverHelp.text.matchAll(/^\s+(--[a-z][a-z-]*)/gm)].map((match) => match[1]!).filter((flag) => flag !== "--help"));
  const table = section(operations, "## Server flags");
  const docFlags = new Set([...table.matchAll(/^\| `(--[a-z][a-z-]*)/gm)].map((match) => match[1]!));
  assert.ok(helpFlags.size >= 10, `coffer server --help lists its flags (${[...helpFlags]})`);
  assert.deepEqual([...docFlags].filter((flag) => !helpFlags.has(flag)), [], "flags in docs/operations.md that coffer server does not know");
  assert.deepEqual([...helpFlags].filter((flag) => !docFlags.has(flag)), [], "flags of coffer server missing from docs/operations.md");
  const helpEnv = new Set([...serverHelp.text.matchAll(/\bCOFFER_[A-Z_]+\b/g)].map((match) => match[0]));
  assert.deepEqual([...helpEnv].filter((name) => !table.includes(`\`${name}\``)), [], "environment settings missing from docs/operations.md");
});
