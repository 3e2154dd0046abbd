/**
 * Where the request being served comes from, for the few records a service
 * makes besides the request's own audit event (a canary's alarm names the
 * caller's address and the agent it says it is). The HTTP layer sets it for
 * each request (http/origin.ts); work that no request started has none. It is
 * computed only when asked for, so requests that never ask pay nothing for it.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export interface RequestOrigin {
  ip: string;
  userAgent: string;
  requestId: string;
  /** The route as declared ("GET /api/v1/workspaces/:workspace/secrets/:secret"): never a path with names in it. */
  route: string;
  /** What the caller says about itself in X-Coffer-Agent, -Session and -Tool: a claim, unlike a token's labels. */
  claimed: Readonly<Record<string, string>>;
}

const origins = new AsyncLocalStorage<() => RequestOrigin>();

/** Runs `fn` (and everything it starts) as part of the request `origin` describes. */
export function withOrigin(origin: () => RequestOrigin, fn: () => void): void {
  origins.run(origin, fn);
}

export function currentOrigin(): RequestOrigin | undefined {
  return origins.getStore()?.();
}
