/**
 * Where the request being served comes from, for the few records a service
 * makes besides the request's own audit event (a canary's alarm names the
 * caller's address and the agent it says it is). The HTTP layer hands the
 * request to the services as an OriginSource with the caller's context
 * (SecretContext.from); work that no request started has none. The origin is
 * computed only when asked for, so requests that never ask pay nothing for it.
 */
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
}
