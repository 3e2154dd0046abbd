/**
 * Webhook deliveries are signed as Stripe signs them: HMAC-SHA256 over
 * "<unix seconds>.<body>" with the webhook's own key, sent as
 * `Coffer-Signature: t=<unix seconds>,v1=<hex>`. The timestamp lets a
 * receiver refuse replays; the key is shown to its creator once.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "coffer-signature";
const PREFIX = "whsec_";

export function newSigningKey(): string {
  return PREFIX + randomBytes(32).toString("base64url");
}

export function signatureHeader(signingKey: string, unixSeconds: number, body: string): string {
  return `t=${unixSeconds},v1=${createHmac("sha256", signingKey).update(`${unixSeconds}.${body}`).digest("hex")}`;
}

/** What a receiver does (the tests and the README's example use it): true when the header matches and is recent. */
export function verifySignature(signingKey: string, header: string, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(",").map((part) => part.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || typeof parts.v1 !== "string") return false;
  const expected = Buffer.from(signatureHeader(signingKey, t, body).split("v1=")[1]!, "hex");
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
