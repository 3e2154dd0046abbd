/**
 * What an audit event says. Never a value, a token or a password: ids and
 * names only.
 */

/** What a request acted on, filled in as the request learns it. */
export interface AuditTarget {
  workspaceId?: string;
  secretId?: string;
  secretName?: string;
  /** Another object acted on: a user, group, token, service account, webhook id or setting name. */
  subject?: string;
}

export type AuditOutcome = "ok" | "denied" | "not_found" | "error";
