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

/** Validates a complete key/value map and returns it as stored (UTF-8 JSON). */
export function encodeData(data: SecretData): { plaintext: Buffer; keys: string[] } {
  const keys = Object.keys(data);
  if (keys.length === 0) throw invalid("a secret needs at least one key/value pair");
  if (keys.length > LIMITS.maxKeys) throw invalid(`a secret has at most ${LIMITS.maxKeys} keys`);
  for (const key of keys) {
    const problem = keyNameProblem(key);
    if (problem) throw invalid(problem);
    if (typeof data[key] !== "string") throw invalid(`the value of key '${key}' must be a string`);
  }
  const plaintext = Buffer.from(JSON.stringify(data), "utf8");
  if (plaintext.length > LIMITS.payloadBytes) {
    throw new CofferError("PAYLOAD_TOO_LARGE", `a secret's data is at most ${LIMITS.payloadBytes} bytes`);
  }
  return { plaintext, keys };
}

export function decodeData(plaintext: Buffer): SecretData {
  return JSON.parse(plaintext.toString("utf8")) as SecretData;
}

/** HMAC and INTERNAL_API_KEY secrets get a generated value when none is given. */
export function dataForType(type: SecretType, data: SecretData | undefined): SecretData {
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

/** JSON merge patch over a key/value map: a null removes the key. */
export function mergeData(current: SecretData, patch: Record<string, string | null>): SecretData {
  const next: SecretData = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}
