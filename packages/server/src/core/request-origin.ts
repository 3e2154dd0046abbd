/**
 * Where the request being served comes from, for the few records a service
 * makes besides the request's own audit event (a canary's alarm names the
 * caller's address and the agent it says it is). The HTTP layer hands the
 * request to the services as an OriginSource with the caller's context
 * (SecretContext.from); work that no request started has none. The origin is
 * computed only when asked for, so requests that never ask pay nothing for it.
 * A change's own event can travel the same way, into the change's commit
 * (changeAudit).
 */
import type { Database } from "../store/store.ts";

export interface RequestOrigin {
  ip: string;
  userAgent: string;
  requestId: string;
  /** The route as declared ("GET /api/v1/workspaces/:workspace/secrets/:secret"): never a path with names in it. */
  route: string;
  /** What the caller says about itself in X-Coffer-Agent, -Session and -Tool: a claim, unlike a token's labels. */
  claimed: Readonly<Record<string, string>>;
}

export interface OriginSource {
  origin(): RequestOrigin;
  /**
   * The request's event, to be written in the transaction of the change it
   * reports; undefined (or absent) where the event is recorded once the
   * request is answered, as for every request that changes nothing.
   */
  changeAudit?(): ChangeAudit | undefined;
}

/**
 * A request whose audit event goes in the same commit as its change (the
 * HTTP layer makes it, http/audit.ts): the caller waits for one commit and
 * one sync rather than the change's and then the audit batch's, and the
 * event is in the log exactly when the change is in the store.
 */
export interface ChangeAudit {
  /**
   * Writes the event in `trx` once the change is made there, saying the
   * request succeeded on `target`. A group-committed write may run more than
   * once: each run writes its own, and only the run that commits stays.
   */
  write(trx: Database, target: { workspaceId: string; secretId: string; secretName: string }): Promise<void>;
  /** The change's transaction committed and is durable: the request's event is recorded. */
  committed(): void;
}
