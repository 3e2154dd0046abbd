/**
 * The part of HCL (version 1, what Vault policies are written in) that
 * policies use: attributes `key = value`, blocks `path "secret/*" { … }`,
 * strings, numbers, booleans, lists and objects, `#`, `//` and block comments.
 * A tokenizer and a recursive-descent parser; no npm package fits
 * (the HCL parsers there are Go compiled to JavaScript or WASM, unmaintained).
 * Errors name the line and column, never quote the input beyond one token.
 *
 * Grammar:
 *   body      := item*
 *   item      := key ( "=" value | string* "{" body "}" )
 *   key       := identifier | string
 *   value     := string | number | bool | "[" (value ","?)* "]" | "{" body-or-pairs "}"
 * An object value's pairs may use `=` or `:` and commas, as HCL allows.
 */
import { invalid } from "../core/errors.ts";

export type HclValue = string | number | boolean | HclValue[] | HclObject;
export interface HclObject {
  [key: string]: HclValue;
}
/** A block `type "label" … { body }`, kept in order: `path` blocks repeat. */
export interface HclBlock {
  type: string;
  labels: string[];
  body: HclBody;
}
export interface HclBody {
  attributes: [string, HclValue][];
  blocks: HclBlock[];
}

type Token = { kind: "ident" | "string" | "number" | "punct"; text: string; line: number; column: number };

const PUNCT = new Set(["{", "}", "[", "]", "=", ":", ","]);

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (what: string): never => {
    throw invalid(`policy syntax error at line ${line}, column ${i - lineStart + 1}: ${what}`);
  };
  while (i < source.length) {
    const c = source[i]!;
    if (c === "\n") {
      i++;
      line++;
      lineStart = i;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "#" || (c === "/" && source[i + 1] === "/")) {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      if (end < 0) fail("unterminated comment");
      for (let j = i; j < end; j++) if (source[j] === "\n") (line++, (lineStart = j + 1));
      i = end + 2;
    } else if (PUNCT.has(c)) {
      tokens.push({ kind: "punct", text: c, line, column: i - lineStart + 1 });
      i++;
    } else if (c === '"') {
      const column = i - lineStart + 1;
      let text = "";
      i++;
      for (;;) {
        const d = source[i];
        if (d === undefined || d === "\n") fail("unterminated string");
        if (d === '"') break;
        if (d === "\\") {
          const e = source[i + 1];
          const simple: Record<string, string> = { '"': '"', "\\": "\\", n: "\n", t: "\t", r: "\r", "/": "/" };
          if (e !== undefined && simple[e] !== undefined) {
            text += simple[e];
            i += 2;
          } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(source.slice(i + 2, i + 6))) {
            text += String.fromCharCode(parseInt(source.slice(i + 2, i + 6), 16));
            i += 6;
          } else {
            fail("unknown escape in a string");
          }
        } else {
          text += d;
          i++;
        }
      }
      i++;
      tokens.push({ kind: "string", text, line, column });
    } else if (/[-0-9]/.test(c)) {
      const match = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(source.slice(i));
      if (!match) fail("malformed number");
      tokens.push({ kind: "number", text: match![0], line, column: i - lineStart + 1 });
      i += match![0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(source.slice(i))!;
      tokens.push({ kind: "ident", text: match[0], line, column: i - lineStart + 1 });
      i += match[0].length;
    } else if (c === "<" && source[i + 1] === "<") {
      fail("heredoc strings are not supported in policies");
    } else {
      fail(`unexpected character '${c}'`);
    }
  }
  return tokens;
}

export function parseHcl(source: string): HclBody {
  const tokens = tokenize(source);
  let at = 0;
  const peek = () => tokens[at];
  const where = (token: Token | undefined) => (token ? `line ${token.line}, column ${token.column}` : "the end");
  const fail = (token: Token | undefined, expected: string): never => {
    throw invalid(`policy syntax error at ${where(token)}: expected ${expected}`);
  };
  const isPunct = (text: string) => peek()?.kind === "punct" && peek()!.text === text;
  const expect = (text: string) => {
    if (!isPunct(text)) fail(peek(), `'${text}'`);
    at++;
  };

  const key = (): string => {
    const token = peek();
    if (token?.kind !== "ident" && token?.kind !== "string") return fail(token, "a name");
    at++;
    return token.text;
  };

  const value = (): HclValue => {
    const token = peek();
    if (!token) return fail(token, "a value");
    if (token.kind === "string") return (at++, token.text);
    if (token.kind === "number") return (at++, Number(token.text));
    if (token.kind === "ident" && (token.text === "true" || token.text === "false")) return (at++, token.text === "true");
    if (isPunct("[")) {
      at++;
      const items: HclValue[] = [];
      while (!isPunct("]")) {
        items.push(value());
        if (isPunct(",")) at++;
        else if (!isPunct("]")) fail(peek(), "',' or ']'");
      }
      at++;
      return items;
    }
    if (isPunct("{")) {
      at++;
      const object = objectOf(body("}"));
      expect("}");
      return object;
    }
    return fail(token, "a value");
  };

  // Inside an object value, pairs may be written `k = v`, `k: v`, with commas; nested blocks too.
  const body = (end: string | null): HclBody => {
    const result: HclBody = { attributes: [], blocks: [] };
    while (peek() !== undefined && !(end !== null && isPunct(end))) {
      const name = key();
      if (isPunct("=") || isPunct(":")) {
        at++;
        result.attributes.push([name, value()]);
      } else {
        const labels: string[] = [];
        while (peek()?.kind === "string") labels.push(tokens[at++]!.text);
        expect("{");
        result.blocks.push({ type: name, labels, body: body("}") });
        expect("}");
      }
      if (isPunct(",")) at++;
    }
    if (end === null && peek() !== undefined) fail(peek(), "a name");
    return result;
  };

  return body(null);
}

/** A body as a plain object (an object value's contents): blocks become nested objects under their labels. */
function objectOf(body: HclBody): HclObject {
  // No prototype: a key named __proto__ is a key like any other.
  const object: HclObject = Object.create(null);
  for (const [name, value] of body.attributes) object[name] = value;
  for (const block of body.blocks) {
    const path = [block.type, ...block.labels];
    let target = object;
    for (const label of path.slice(0, -1)) {
      const next = target[label];
      target = (next !== undefined && typeof next === "object" && !Array.isArray(next) ? next : (target[label] = Object.create(null))) as HclObject;
    }
    target[path.at(-1)!] = objectOf(block.body);
  }
  return object;
}
