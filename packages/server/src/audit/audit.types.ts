/**
 * What an audit event says. Never a value, a token or a password: ids and
 * names only.
 */
import type { Tables } from "../store/tables.ts";

/** What a request acted on, filled in as the request learns it. */
export interface AuditTarget {
  workspaceId?: string;
  secretId?: string;
  secretName?: string;
  /** A request on several secrets (a batch read): one event each. */
  secrets?: { id?: string; name: string }[];
  /** Another object acted on: a user, group, token, service account, webhook id or setting name. */
  subject?: string;
}

export type AuditOutcome = "ok" | "denied" | "not_found" | "error";

/** "system": the server's own background work (a scheduled rotation), not a request. */
export type ActorKind = "user" | "service_account" | "anonymous" | "system";

/** One event as recorded, before it has its place in the chain (the stored row, less seq and hash). */
export interface AuditEventInput extends Omit<Tables["auditEvents"], "seq" | "hash" | "actorKind" | "outcome"> {
  actorKind: ActorKind;
  outcome: AuditOutcome;
}

/** An event in the chain: `hash` covers its fields and the previous event's hash. */
export interface AuditRecord extends AuditEventInput {
  seq: number;
  hash: string;
}

export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return "ok";
  if (status === 401 || status === 403 || status === 429) return "denied";
  if (status === 404) return "not_found";
  return "error";
}

/** An event for work the server did by itself: no caller, no address. */
export function systemEvent(time: number, action: string, target: { workspaceId: string; secretId: string; secretName: string }): AuditEventInput {
  return {
    time,
    actorKind: "system",
    actorId: null,
    actorName: "coffer",
    tokenId: null,
    action,
    outcome: "ok",
    status: 0,
    workspaceId: target.workspaceId,
    secretId: target.secretId,
    secretName: target.secretName,
    subject: null,
    ip: "",
    userAgent: "",
    requestId: "",
  };
}
