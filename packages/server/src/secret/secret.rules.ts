/**
 * What a valid secret is. Every check names the rule it enforces and never
 * echoes a value: only names, key names and sizes appear in messages.
 */
import { keyNameProblem, LIMITS, SECRET_TYPES, secretNameProblem, type SecretData, type SecretType } from "@coffer/protocol";
import { CofferError, invalid } from "../core/errors.ts";
import { generateHmacKey, generateInternalApiKey } from "../crypto/generate.ts";

const TAG = /^[A-Za-z0-9_.:/=@+-]+$/;

/** Single-value secrets (and generated values) keep their value under this key. */
export const DEFAULT_KEY = "value";

export function checkName(name: string): string {
  const problem = secretNameProblem(name);
  if (problem) throw invalid(problem);
  return name;
}

export function checkType(type: string | undefined): SecretType {
  if (type === undefined) return "USER_DEFINED";
  if (!(SECRET_TYPES as readonly string[]).includes(type)) {
    throw new CofferError("INVALID_SECRET_TYPE", `secret type must be one of ${SECRET_TYPES.join(", ")}`);
  }
  return type as SecretType;
}

export function checkLabel(label: string | undefined, name: string): string {
  const value = label ?? name;
  if (value.length > LIMITS.labelLength) throw invalid(`labels are at most ${LIMITS.labelLength} characters`);
  return value;
}

export function checkTags(tags: readonly string[] | undefined): string[] {
  const value = [...new Set(tags ?? [])];
  if (value.length > LIMITS.maxTags) throw invalid(`a secret has at most ${LIMITS.maxTags} tags`);
  for (const tag of value) {
    if (tag.length === 0 || tag.length > LIMITS.tagLength || !TAG.test(tag)) {
      throw invalid(`tags are 1 to ${LIMITS.tagLength} letters, digits or _ . : / = @ + -`);
    }
  }
  return value;
}

/** Any JSON value: what Vault's KV engine stores under a key. */
export type SecretValue = string | number | boolean | null | SecretValue[] | { [key: string]: SecretValue };
/** A key/value map as stored: strings, or other JSON values written through the Vault API, kept with their type. */
export type SecretValues = Record<string, SecretValue>;

/**
 * The map as the native API, the CLI and `run`/`inject` show it: strings as
 * they are, any other value as its JSON text. An all-string map is returned
 * as it is, so the common case allocates nothing.
 */
export function textOf(values: SecretValues): SecretData {
  for (const key in values) {
    if (typeof values[key] !== "string") {
      const text: SecretData = {};
      for (const [k, value] of Object.entries(values)) text[k] = typeof value === "string" ? value : JSON.stringify(value);
      return text;
    }
  }
  return values as SecretData;
}

/** A view's value fields: `data` in text, and `values` with the types kept when some value is not a string. */
export function dataFields(values: SecretValues): { data: SecretData; values?: SecretValues } {
  const data = textOf(values);
  return data === values ? { data } : { data, values };
}

/** Validates a complete key/value map and returns it as stored (UTF-8 JSON, each value with its JSON type). */
export function encodeData(data: SecretValues): { plaintext: Buffer; keys: string[] } {
  const keys = Object.keys(data);
  if (keys.length === 0) throw invalid("a secret needs at least one key/value pair");
  if (keys.length > LIMITS.maxKeys) throw invalid(`a secret has at most ${LIMITS.maxKeys} keys`);
  for (const key of keys) {
    const problem = keyNameProblem(key);
    if (problem) throw invalid(problem);
    if (data[key] === undefined) throw invalid(`the value of key '${key}' must be a JSON value`);
  }
  const plaintext = Buffer.from(JSON.stringify(data), "utf8");
  if (plaintext.length > LIMITS.payloadBytes) {
    throw new CofferError("PAYLOAD_TOO_LARGE", `a secret's data is at most ${LIMITS.payloadBytes} bytes`);
  }
  return { plaintext, keys };
}

export function decodeData(plaintext: Buffer): SecretValues {
  return JSON.parse(plaintext.toString("utf8")) as SecretValues;
}

/** HMAC and INTERNAL_API_KEY secrets get a generated value when none is given. */
export function dataForType(type: SecretType, data: SecretValues | undefined): SecretValues {
  if (data !== undefined && Object.keys(data).length > 0) return data;
  switch (type) {
    case "HMAC":
      return { [DEFAULT_KEY]: generateHmacKey() };
    case "INTERNAL_API_KEY":
      return { [DEFAULT_KEY]: generateInternalApiKey() };
    case "USER_DEFINED":
      throw invalid("a secret needs at least one key/value pair");
  }
}

/** An expiry as given (ISO 8601 date-time, or null: none) as stored; it must lie ahead, or the secret would be born expired. */
export function checkExpiry(value: string | null, now: number): number | null {
  if (value === null) return null;
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(time)) throw invalid("expiresAt is an ISO 8601 date-time such as 2027-01-31T00:00:00Z, or null");
  if (time <= now) throw invalid("expiresAt must lie in the future");
  return time;
}

/** The expiry columns after a write that gives `expiresAt` (undefined: unchanged); a new expiry gets its own warning. */
export function expiryChange(row: { expiresAt: number | null; expiryWarnedAt: number | null }, expiresAt: string | null | undefined, now: number): { expiresAt: number | null; expiryWarnedAt: number | null } {
  const next = expiresAt === undefined ? row.expiresAt : checkExpiry(expiresAt, now);
  return { expiresAt: next, expiryWarnedAt: next === row.expiresAt ? row.expiryWarnedAt : null };
}

/** JSON merge patch over a key/value map: a null removes the key. */
export function mergeData(current: SecretValues, patch: Record<string, SecretValue>): SecretValues {
  const next: SecretValues = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}
