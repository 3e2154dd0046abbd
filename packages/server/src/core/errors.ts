/**
 * The only errors a client ever sees. Anything else thrown inside the server
 * is reported as INTERNAL with a request id, so a driver message, a stack or
 * a value can never reach a response.
 */
import { statusOf, type ErrorCode } from "@coffer/protocol";

export class CofferError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra response headers (Retry-After, …). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "CofferError";
    this.code = code;
    this.status = statusOf(code);
    this.headers = headers;
  }
}

export function invalid(message: string): CofferError {
  return new CofferError("INVALID_REQUEST", message);
}
