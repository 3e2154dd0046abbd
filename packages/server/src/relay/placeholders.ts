/**
 * `@{vault.NAME}` and `@{vault.NAME.KEY}`: how a relayed request names the
 * values Coffer puts in for the caller. A name may hold dots and slashes, so
 * `@{vault.a.b}` is the secret `a.b` if it exists, else key `b` of `a`
 * (the relay service tries them in that order).
 */

export const PLACEHOLDER = /@\{vault\.([A-Za-z0-9_.\/-]{1,300})\}/g;

export interface PlaceholderRef {
  /** As written, `@{vault.…}`: what the answer shows in place of the value. */
  text: string;
  /** What follows `vault.`. */
  path: string;
}

/** Every placeholder in a text, in order. */
export function placeholdersIn(text: string): PlaceholderRef[] {
  if (!text.includes("@{vault.")) return [];
  return [...text.matchAll(PLACEHOLDER)].map((match) => ({ text: match[0], path: match[1]! }));
}

/** Whether the text holds something that starts like a placeholder but is not one (a typo would otherwise travel as is). */
export function hasMalformedPlaceholder(text: string): boolean {
  return text.replace(PLACEHOLDER, "").includes("@{vault.");
}

/** The text with each placeholder replaced by `valueOf(placeholder)`. */
export function substitute(text: string, valueOf: (ref: PlaceholderRef) => string): string {
  if (!text.includes("@{vault.")) return text;
  return text.replace(PLACEHOLDER, (whole, path: string) => valueOf({ text: whole, path }));
}

/** The text with `fn` applied to what lies between placeholders (the placeholders stay as written). */
export function mapLiterals(text: string, fn: (literal: string) => string): string {
  let out = "";
  let from = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    out += fn(text.slice(from, match.index)) + match[0];
    from = match.index + match[0].length;
  }
  return out + fn(text.slice(from));
}
