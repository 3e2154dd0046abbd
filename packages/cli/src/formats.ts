/**
 * Files of secrets: dotenv and JSON in, dotenv, JSON and YAML out. A
 * document is a map from secret name to either a string (a one-value secret,
 * stored under the key `value`) or a map of keys to strings.
 */
import { CliError, EXIT } from "./cli-error.ts";

export type Entry = string | Record<string, string>;
export type Document = Map<string, Entry>;

/**
 * dotenv: `KEY=value`, optionally `export KEY=value`; `#` comments; values
 * unquoted (trimmed, ` #` starts a comment), 'single-quoted' (literal) or
 * "double-quoted" (\n, \r, \t, \", \\ escapes; may span lines).
 */
export function parseDotenv(text: string, source: string): Map<string, string> {
  const out = new Map<string, string>();
  const pattern = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-/]*)[ \t]*=[ \t]*/;
  let rest = text.replace(/^\uFEFF/, "");
  let line = 1;
  while (rest.length) {
    const newline = rest.indexOf("\n");
    const current = newline < 0 ? rest : rest.slice(0, newline);
    if (/^\s*(#.*)?\r?$/.test(current)) {
      rest = newline < 0 ? "" : rest.slice(newline + 1);
      line++;
      continue;
    }
    const match = pattern.exec(current);
    if (!match) throw new CliError(`${source}:${line}: expected KEY=VALUE`, EXIT.usage);
    const key = match[1]!;
    let body = rest.slice(match[0].length);
    let value: string;
    const quote = body[0];
    if (quote === '"' || quote === "'") {
      let i = 1;
      value = "";
      for (; i < body.length && body[i] !== quote; i++) {
        const char = body[i]!;
        if (char === "\\" && quote === '"' && i + 1 < body.length) {
          const next = body[++i]!;
          value += next === "n" ? "\n" : next === "r" ? "\r" : next === "t" ? "\t" : next;
        } else value += char;
      }
      if (i >= body.length) throw new CliError(`${source}:${line}: unterminated ${quote} quote in ${key}`, EXIT.usage);
      line += body.slice(0, i).split("\n").length - 1;
      body = body.slice(i + 1);
      const end = body.indexOf("\n");
      const trailing = end < 0 ? body : body.slice(0, end);
      if (!/^\s*(#.*)?\r?$/.test(trailing)) throw new CliError(`${source}:${line}: unexpected text after the closing quote of ${key}`, EXIT.usage);
      rest = end < 0 ? "" : body.slice(end + 1);
    } else {
      const end = body.indexOf("\n");
      value = (end < 0 ? body : body.slice(0, end)).replace(/\r$/, "").replace(/\s+#.*$/, "").trim();
      rest = end < 0 ? "" : body.slice(end + 1);
    }
    out.set(key, value);
    line++;
  }
  return out;
}

/** A JSON object's entries, each a string or an object of strings; anything else is an error naming it. */
export function parseJsonDocument(text: string, source: string): Document {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${source} is not valid JSON (${(error as Error).message})`, EXIT.usage);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new CliError(`${source}: expected a JSON object`, EXIT.usage);
  const out: Document = new Map();
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === "string") out.set(name, value);
    else if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string")) {
      out.set(name, value as Record<string, string>);
    } else {
      throw new CliError(`${source}: '${name}' must be a string or an object of strings`, EXIT.usage);
    }
  }
  return out;
}

export type InputFormat = "dotenv" | "json";

/** By --format, else by the file's extension, else by its first character. */
export function detectFormat(path: string, text: string, format: string | undefined): InputFormat {
  if (format !== undefined) {
    if (format === "dotenv" || format === "env" || format === "json") return format === "json" ? "json" : "dotenv";
    throw new CliError(`--format must be dotenv or json (got '${format}')`, EXIT.usage);
  }
  if (/\.json$/i.test(path)) return "json";
  if (/(^|\/)\.env|\.env$/i.test(path)) return "dotenv";
  return text.trimStart().startsWith("{") ? "json" : "dotenv";
}

export function parseDocument(path: string, text: string, format?: string): Document {
  const source = path === "-" ? "stdin" : path;
  return detectFormat(path, text, format) === "json" ? parseJsonDocument(text, source) : new Map(parseDotenv(text, source));
}

/** The key/value pairs of one secret from a file: a dotenv file, or a JSON object of strings. */
export function parsePairs(path: string, text: string): Record<string, string> {
  const source = path === "-" ? "stdin" : path;
  if (detectFormat(path, text, undefined) === "dotenv") return Object.fromEntries(parseDotenv(text, source));
  const document = parseJsonDocument(text, source);
  const out: Record<string, string> = {};
  for (const [key, value] of document) {
    if (typeof value !== "string") throw new CliError(`${source}: '${key}' must be a string: one secret's keys map to strings`, EXIT.usage);
    out[key] = value;
  }
  return out;
}

/** A one-value secret (its only key is `value`) is a string; others stay maps. */
export function entryOf(data: Record<string, string>): Entry {
  const keys = Object.keys(data);
  return keys.length === 1 && keys[0] === "value" ? data.value! : { ...data };
}

export function dataOf(entry: Entry): Record<string, string> {
  return typeof entry === "string" ? { value: entry } : entry;
}

export function formatDotenv(vars: Iterable<[string, string]>): string {
  let out = "";
  for (const [name, value] of vars) out += `${name}=${quoteDotenv(value)}\n`;
  return out;
}

function quoteDotenv(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
}

export function formatJson(document: Document): string {
  return JSON.stringify(Object.fromEntries(document), null, 2) + "\n";
}

/** YAML 1.2: every key and string double-quoted with JSON's escapes, which YAML reads the same way. */
export function formatYaml(document: Document): string {
  let out = "";
  for (const [name, entry] of document) {
    if (typeof entry === "string") {
      out += `${JSON.stringify(name)}: ${JSON.stringify(entry)}\n`;
    } else {
      const keys = Object.entries(entry);
      out += keys.length === 0 ? `${JSON.stringify(name)}: {}\n` : `${JSON.stringify(name)}:\n`;
      for (const [key, value] of keys) out += `  ${JSON.stringify(key)}: ${JSON.stringify(value)}\n`;
    }
  }
  return out;
}
