/**
 * Decoys for canary secrets: random values that look like real credentials
 * of a well-known format, down to the details leak scanners and attackers
 * check (an AWS key id's AKIA prefix and alphabet, an OpenAI key's embedded
 * marker, a GitHub token's CRC32 checksum), so a thief has no reason to pass
 * over them. They open nothing anywhere.
 */
import { randomInt } from "node:crypto";
import { crc32 } from "node:zlib";
import type { CanaryFormat } from "@coffer/protocol";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE32_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64_CHARS = `${BASE62}+/`;

/** The decoy's key/value pairs: `value` alone, or an AWS key pair. */
export function generateDecoy(format: CanaryFormat): Record<string, string> {
  switch (format) {
    case "aws":
      return { access_key_id: `AKIA${randomChars(BASE32_UPPER, 16)}`, secret_access_key: randomChars(BASE64_CHARS, 40) };
    case "openai":
      // The classic user key: 20 characters, the base64 of "OpenAI", 20 more.
      return { value: `sk-${randomChars(BASE62, 20)}T3BlbkFJ${randomChars(BASE62, 20)}` };
    case "github":
      return { value: githubToken("ghp_") };
  }
}

/** GitHub's token shape: prefix, 30 random base62 characters, then their CRC32 in 6 base62 characters. */
function githubToken(prefix: string): string {
  const body = randomChars(BASE62, 30);
  let checksum = crc32(body);
  let digits = "";
  for (let i = 0; i < 6; i++) {
    digits = BASE62[checksum % 62] + digits;
    checksum = Math.floor(checksum / 62);
  }
  return `${prefix}${body}${digits}`;
}

function randomChars(alphabet: string, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
