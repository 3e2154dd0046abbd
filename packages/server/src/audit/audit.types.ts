/**
 * What an audit event says. Never a value, a token or a password: ids and
 * names only.
 */
/** What a request acted on, filled in as the request learns it. */
export interface AuditTarget {
  /** A more precise action than the route's (a metadata change that sets a relay policy). */
  action?: string;
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

/** One event as recorded, before it has its place in the chain. */
export interface AuditEventInput {
  time: number;
  actorKind: ActorKind;
  actorId: string | null;
  actorName: string | null;
  tokenId: string | null;
  /** `<resource>.<verb>`, e.g. secret.read. */
  action: string;
  outcome: AuditOutcome;
  /** The HTTP status answered (0 for the server's own work). */
  status: number;
  workspaceId: string | null;
  secretId: string | null;
  secretName: string | null;
  subject: string | null;
  ip: string;
  userAgent: string;
  requestId: string;
}

/** An event in the chain: `hash` covers its fields and the previous event's hash. */
export interface AuditRecord extends AuditEventInput {
  seq: number;
  hash: string;
}

/**
 * A read's event recorded together with the check that what it served was
 * current (secret/secret-freshness.ts): the event goes in only if the secret
 * is still at this version and stamp.
 */
export interface ReadCondition {
  secretId: string;
  currentVersion: number;
  updatedAt: number;
  deletedAt: number | null;
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
