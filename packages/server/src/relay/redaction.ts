/**
 * Redaction of relayed answers: an upstream may echo a value back (an error
 * quoting the key, a debug endpoint, a reflected header). Each referenced
 * value is replaced by its placeholder in the answer's headers and body, and
 * so are its common encodings: base64 and base64url (also inside a longer
 * encoded text, at each of the three byte alignments), URL-encoding and hex.
 * An upstream that transforms a value in any other way (another encoding,
 * encryption, a substring) is outside what this can see: docs/relay.md says so.
 *
 * Work is on latin1 strings, one character per byte, so a pattern matches
 * the bytes whatever the answer's charset. A stream keeps back only the end
 * of a chunk that could be the start of a pattern, so a value split across
 * chunks is still caught and a complete SSE event is not delayed.
 */
import { Transform, type TransformCallback } from "node:stream";

/** Encoded forms shorter than this are not redacted (they would match by chance); the value itself always is. */
const MIN_FORM_LENGTH = 6;

export interface Redactable {
  /** The placeholder shown instead, as the caller wrote it. */
  placeholder: string;
  value: string;
}

export class Redactor {
  #regex: RegExp | null;
  #replacement = new Map<string, string>();
  #patterns: string[];
  readonly longest: number;

  constructor(values: readonly Redactable[]) {
    for (const { placeholder, value } of values) {
      const replacement = Buffer.from(placeholder, "utf8").toString("latin1");
      for (const form of formsOf(value)) if (!this.#replacement.has(form)) this.#replacement.set(form, replacement);
    }
    // Longest first: at one position the regex takes the first alternative that matches.
    this.#patterns = [...this.#replacement.keys()].sort((a, b) => b.length - a.length);
    this.longest = this.#patterns[0]?.length ?? 0;
    this.#regex = this.#patterns.length === 0 ? null : new RegExp(this.#patterns.map(escape).join("|"), "g");
  }

  /** A whole answer (or a header value, already latin1 as Node gives it). */
  text(latin1: string): string {
    return this.#regex === null ? latin1 : this.#process(latin1, true).out;
  }

  /** The body itself when nothing in it is redacted (the usual case): no copy. */
  bytes(body: Buffer): Buffer {
    if (this.#regex === null) return body;
    const text = body.toString("latin1");
    const out = this.text(text);
    return out === text ? body : Buffer.from(out, "latin1");
  }

  /** A stream's redaction, across chunk boundaries; `received` learns each chunk's size as it comes. */
  stream(received?: (bytes: number) => void): Transform {
    let kept = "";
    return new Transform({
      transform: (chunk: Buffer, _encoding, done: TransformCallback) => {
        received?.(chunk.length);
        if (this.#regex === null) return done(null, chunk);
        const { out, keep } = this.#process(kept + chunk.toString("latin1"), false);
        kept = keep;
        done(null, out.length === 0 ? undefined : Buffer.from(out, "latin1"));
      },
      flush: (done: TransformCallback) => {
        const out = kept.length === 0 ? "" : this.text(kept);
        kept = "";
        done(null, out.length === 0 ? undefined : Buffer.from(out, "latin1"));
      },
    });
  }

  /** Replaces what is certain; unless `final`, keeps back an end that could still become (or extend) a match. */
  #process(text: string, final: boolean): { out: string; keep: string } {
    const regex = this.#regex!;
    let out = "";
    let from = 0;
    let holdFrom = -1;
    regex.lastIndex = 0;
    for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
      if (!final && this.#couldExtend(text, match.index, match[0].length)) {
        holdFrom = match.index;
        break;
      }
      out += text.slice(from, match.index) + this.#replacement.get(match[0]);
      from = match.index + match[0].length;
    }
    if (holdFrom < 0) holdFrom = final ? text.length : text.length - this.#partialAtEnd(text, from);
    return { out: out + text.slice(from, holdFrom), keep: text.slice(holdFrom) };
  }

  /** Whether a longer pattern could match at `at` once more bytes arrive. */
  #couldExtend(text: string, at: number, length: number): boolean {
    const rest = text.length - at;
    if (rest >= this.longest) return false;
    for (const pattern of this.#patterns) {
      if (pattern.length <= length) break;
      if (pattern.length > rest && text.startsWith(pattern.slice(0, rest), at)) return true;
    }
    return false;
  }

  /** The length of the longest end of `text` (after `from`) that is a proper start of some pattern. */
  #partialAtEnd(text: string, from: number): number {
    const most = Math.min(this.longest - 1, text.length - from);
    for (let length = most; length > 0; length--) {
      const end = text.slice(text.length - length);
      if (this.#patterns.some((pattern) => pattern.length > length && pattern.startsWith(end))) return length;
    }
    return 0;
  }
}

/** The value and the encodings of it that an upstream is likely to reflect, as latin1 strings of their bytes. */
export function formsOf(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length === 0) return [];
  const forms = new Set<string>([bytes.toString("latin1")]);
  const add = (form: string) => {
    if (form.length >= MIN_FORM_LENGTH) forms.add(form);
  };
  for (const encoding of ["base64", "base64url"] as const) {
    add(bytes.toString(encoding));
    add(bytes.toString(encoding).replace(/=+$/, ""));
    // Inside a longer encoded text the value starts at one of three byte offsets; keep the characters only its bytes decide.
    for (let offset = 0; offset < 3; offset++) {
      const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(encoding).replace(/=+$/, "");
      const skip = offset === 0 ? 0 : offset + 1;
      add(encoded.slice(skip, Math.floor(((offset + bytes.length) * 8) / 6)));
    }
  }
  const uri = encodeURIComponent(value);
  add(uri);
  add(uri.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()));
  add(uri.replace(/%20/g, "+"));
  add(bytes.toString("hex"));
  add(bytes.toString("hex").toUpperCase());
  return [...forms];
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
