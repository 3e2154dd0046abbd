/**
 * HMAC use without reveal: sign and verify with an HMAC secret's key at the
 * `use` level, which never returns a value. The secret service opens the
 * version; only crypto/hmac.ts reads the key out of the payload.
 */
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { formatSignature, HmacKeyError, macWithPayload, parseSignature, verifyWithPayload } from "../crypto/hmac.ts";
import { withinGrace } from "../rotation/rotation.rules.ts";
import type { ApprovalGate } from "../approval/approval.service.ts";
import type { SecretRow } from "../secret/secret.repository.ts";
import type { SecretContext, SecretService } from "../secret/secret.service.ts";

export type MessageEncoding = "utf8" | "base64";

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface Signed {
  signature: string;
  version: number;
}

export interface Verified {
  valid: boolean;
  /** The key version the signature names. */
  version: number;
}

export class HmacService {
  #secrets: SecretService;
  #clock: Clock;
  #graceDays: number;
  #approvals: ApprovalGate | undefined;

  /** `approvals`: signing with a secret that needs a person's approval waits for it. */
  constructor(secrets: SecretService, clock: Clock, graceDays: number, approvals?: ApprovalGate) {
    this.#secrets = secrets;
    this.#clock = clock;
    this.#graceDays = graceDays;
    this.#approvals = approvals;
  }

  /** Signs with the current key version. `onSecret` learns which secret it was (for the audit), before any failure after access. */
  async sign(ctx: SecretContext, ref: string, message: string, encoding: MessageEncoding = "utf8", onSecret?: (secret: SecretRow) => void): Promise<Signed> {
    const bytes = decodeMessage(message, encoding);
    const secret = await this.#hmacSecret(ctx, ref, onSecret);
    await this.#approvals?.awaitUse(ctx, secret, "hmac-sign");
    const version = secret.currentVersion;
    const { payload } = await this.#secrets.openVersion(ctx, secret, version);
    return { signature: formatSignature(version, withKey(() => macWithPayload(payload, bytes))), version };
  }

  /**
   * Checks a signature in constant time. It counts when made with the current
   * key version, or with an earlier one superseded less than the grace period
   * ago (consumers are still switching); otherwise it is invalid.
   */
  async verify(ctx: SecretContext, ref: string, message: string, signature: string, encoding: MessageEncoding = "utf8", onSecret?: (secret: SecretRow) => void): Promise<Verified> {
    const bytes = decodeMessage(message, encoding);
    const secret = await this.#hmacSecret(ctx, ref, onSecret);
    const parsed = parseSignature(signature);
    if (!parsed) throw invalid("a signature looks like v<version>:<43 base64url characters>");
    const { version, mac } = parsed;
    if (version > secret.currentVersion) return { valid: false, version };
    const opened = await this.#secrets.openVersion(ctx, secret, version).catch((error: unknown) => {
      // Pruned: too old to count.
      if (error instanceof CofferError && error.code === "VERSION_NOT_FOUND") return undefined;
      throw error;
    });
    if (!opened) return { valid: false, version };
    const { payload, supersededAt } = opened;
    if (supersededAt !== null && !withinGrace(supersededAt, this.#clock(), this.#graceDays)) {
      payload.fill(0);
      return { valid: false, version };
    }
    return { valid: withKey(() => verifyWithPayload(payload, bytes, mac)), version };
  }

  async #hmacSecret(ctx: SecretContext, ref: string, onSecret?: (secret: SecretRow) => void): Promise<SecretRow> {
    const secret = await this.#secrets.authorize(ctx, ref, "use");
    onSecret?.(secret);
    if (secret.type !== "HMAC") throw new CofferError("INVALID_SECRET_TYPE", `secret '${secret.name}' is ${secret.type}; only HMAC secrets sign and verify`);
    return secret;
  }
}

function decodeMessage(message: string, encoding: MessageEncoding): Buffer {
  if (encoding === "utf8") return Buffer.from(message, "utf8");
  if (!BASE64.test(message)) throw invalid("message is not valid base64");
  return Buffer.from(message, "base64");
}

function withKey<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof HmacKeyError) throw new CofferError("INVALID_SECRET_TYPE", error.message);
    throw error;
  }
}
