/**
 * The one registry of Coffer's error codes. Servers send them, clients match on
 * them; the HTTP status of each code is part of the contract and never changes.
 */
export const ERROR_CODES = {
  INVALID_REQUEST: { status: 400, description: "The request is malformed or a field is invalid; nothing was changed." },
  INVALID_SECRET_TYPE: { status: 400, description: "The secret type is unknown, or the operation does not apply to this type." },
  UNAUTHENTICATED: { status: 401, description: "The token is missing, malformed, unknown, expired or revoked." },
  ACCESS_DENIED: { status: 403, description: "The caller is known but not allowed to do this." },
  NOT_FOUND: { status: 404, description: "No such route or resource." },
  SECRET_NOT_FOUND: { status: 404, description: "No secret with this id or name is visible to the caller." },
  WORKSPACE_NOT_FOUND: { status: 404, description: "No workspace with this id or name is visible to the caller." },
  VERSION_NOT_FOUND: { status: 404, description: "The secret has no such version: never written, pruned, deleted or destroyed." },
  SECRET_EXPIRED: { status: 410, description: "The secret's expiresAt has passed: its value is neither read nor used until a writer sets a later expiry (or none)." },
  SECRET_ALREADY_EXISTS: { status: 409, description: "A secret with this name already exists (possibly soft-deleted)." },
  WORKSPACE_ALREADY_EXISTS: { status: 409, description: "A workspace with this name already exists." },
  ALREADY_EXISTS: { status: 409, description: "A user, group or service account with this name already exists." },
  VERSION_CONFLICT: { status: 409, description: "Check-and-set failed: the secret's current version is not the expected one." },
  PAYLOAD_TOO_LARGE: { status: 413, description: "The request body or secret payload exceeds the size limit." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: "The request body must be application/json." },
  URI_TOO_LONG: { status: 414, description: "The URL is longer than the server reads (about 16 KiB with the headers), or a path segment is longer than 1024 characters; nothing was changed." },
  HEADERS_TOO_LARGE: { status: 431, description: "The request's headers are larger than the server reads (about 16 KiB); nothing was changed." },
  RATE_LIMITED: { status: 429, description: "Too many requests; retry after the number of seconds in Retry-After." },
  INTERNAL: { status: 500, description: "An unexpected error; the request id identifies it in the server log." },
  INTEGRITY_ERROR: { status: 500, description: "Stored ciphertext failed authentication: it was altered or moved." },
  SEALED: { status: 503, description: "The server is sealed or its store is unreachable." },
  DESTINATION_NOT_ALLOWED: { status: 403, description: "A relayed request goes somewhere, or places a value somewhere, that a referenced secret's relay policy does not allow; nothing was sent." },
  APPROVAL_DENIED: { status: 403, description: "The secret needs a person's approval for this use, and it was denied or not given in time; nothing was sent or signed." },
  UPSTREAM_ERROR: { status: 502, description: "The relay could not reach the upstream, or its answer was malformed." },
  UPSTREAM_RESPONSE_TOO_LARGE: { status: 502, description: "The upstream's answer exceeded the relay's response limit (10 MiB)." },
  UPSTREAM_TIMEOUT: { status: 504, description: "The upstream did not answer within the relay's timeout." },
  AUDIT_UNAVAILABLE: { status: 503, description: "The audit event could not be made durable, so the request was refused (fail closed); nothing was returned." },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string };
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}
