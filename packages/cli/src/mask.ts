/**
 * Masking secret values in a child's output, as `****`.
 *
 * Every non-empty value is masked, however short (a one-character value
 * masks every occurrence of that character: choose values accordingly), in
 * its plain form and its encoded forms: base64 (padded and unpadded),
 * base64url, and URL-encoding (percent-encoded, and with `+` for spaces as in
 * form bodies). An encoding of a value embedded at an unaligned offset inside
 * a longer base64 text cannot be recognised, by any tool: such output is not
 * masked.
 *
 * Output is handled as bytes (latin1 maps each byte to one character), so
 * binary output and multi-byte characters pass through unchanged. A value
 * split across two writes is still masked: the masker holds back the end of
 * the data seen so far while it could be the start of a value (never more
 * than the longest pattern's length minus one bytes) and writes it once the
 * next chunk decides, or at the end.
 */
import { Transform, type TransformCallback } from "node:stream";

export const MASK = "****";

/** The byte patterns (as latin1 strings) that mask one value. */
export function patternsOf(value: string): string[] {
  if (value === "") return [];
  const bytes = Buffer.from(value, "utf8");
  const base64 = bytes.toString("base64");
  const uri = encodeURIComponent(value);
  const forms = [value, base64, base64.replace(/=+$/, ""), bytes.toString("base64url"), uri, uri.replace(/%20/g, "+")];
  return forms.map((form) => Buffer.from(form, "utf8").toString("latin1"));
}

export class Masker {
  readonly #sorted: string[];
  readonly #regex: RegExp | null;
  readonly #longest: number;
  readonly #starts: Set<string>;

  constructor(values: Iterable<string>) {
    const patterns = new Set<string>();
    for (const value of values) for (const pattern of patternsOf(value)) if (pattern) patterns.add(pattern);
    // Longest first, so the regex prefers a whole encoded form over a shorter one at the same place.
    const byLength = [...patterns].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    this.#regex = byLength.length ? new RegExp(byLength.map(escape).join("|"), "g") : null;
    this.#longest = byLength[0]?.length ?? 0;
    this.#sorted = [...patterns].sort();
    this.#starts = new Set(byLength.map((pattern) => pattern[0]!));
  }

  get empty(): boolean {
    return this.#regex === null;
  }

  /**
   * Masks `text` (latin1). With `final` false, returns the part that is safe
   * to write and the tail to keep for the next call.
   */
  mask(text: string, final: boolean): { out: string; keep: string } {
    const regex = this.#regex;
    if (!regex) return { out: text, keep: "" };
    const hold = final ? text.length : this.#holdFrom(text);
    let out = "";
    let position = 0;
    regex.lastIndex = 0;
    for (;;) {
      const match = regex.exec(text);
      if (!match || match.index >= hold) break;
      out += text.slice(position, match.index) + MASK;
      position = match.index + match[0].length;
      regex.lastIndex = position;
    }
    const end = Math.max(position, hold);
    return { out: out + text.slice(position, end), keep: text.slice(end) };
  }

  /**
   * Where the tail that could still become a match begins: the first
   * position, among the last `longest - 1`, from which the rest of `text` is
   * a proper prefix of some pattern; `text.length` when there is none. No
   * match can start before it and be undecided: from there on, at least
   * `longest` characters are known.
   */
  #holdFrom(text: string): number {
    for (let i = Math.max(0, text.length - this.#longest + 1); i < text.length; i++) {
      if (!this.#starts.has(text[i]!)) continue;
      if (this.#isPrefix(text.slice(i))) return i;
    }
    return text.length;
  }

  /**
   * Whether some pattern longer than `tail` starts with it. The patterns are
   * sorted, so those starting with `tail` come together from the first one not
   * below it (`tail` itself first, when it is a pattern: a complete match is
   * decided unless a longer pattern extends it).
   */
  #isPrefix(tail: string): boolean {
    const sorted = this.#sorted;
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (sorted[middle]! < tail) low = middle + 1;
      else high = middle;
    }
    if (sorted[low] === tail) low++;
    return low < sorted.length && sorted[low]!.startsWith(tail);
  }

  /** A stream that masks what passes through it. */
  stream(): Transform {
    let kept = "";
    const masker = this;
    return new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        const { out, keep } = masker.mask(kept + chunk.toString("latin1"), false);
        kept = keep;
        callback(null, out.length ? Buffer.from(out, "latin1") : undefined);
      },
      flush(callback: TransformCallback) {
        const { out } = masker.mask(kept, true);
        kept = "";
        callback(null, out.length ? Buffer.from(out, "latin1") : undefined);
      },
    });
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
