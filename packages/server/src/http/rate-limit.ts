/**
 * Rate limits for routes: a route under `/…/:workspace/…` says
 * `config: { rateLimit: "read" | "write" }` and the caller's token is charged
 * in that workspace once it is authenticated, before the body is parsed or
 * the handler runs; a spent budget answers 429 RATE_LIMITED with
 * Retry-After. Routes that find their workspace another way call
 * `coffer.limits.take(kind, request.principal, workspace)` themselves.
 * See limits/rate-limits.ts for what counts as which.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from "fastify";
import type { LimitKind, RateLimits } from "../limits/rate-limits.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    rateLimit?: LimitKind;
  }
}

/** Must be installed before the routes are registered (it attaches to them as they are added). */
export function installRateLimits(app: FastifyInstance, limits: RateLimits, workspaces: WorkspaceService): void {
  app.addHook("onRoute", (route) => {
    const kind = route.config?.rateLimit;
    if (kind === undefined) return;
    if (!route.url.includes(":workspace")) {
      throw new Error(`${String(route.method)} ${route.url}: config.rateLimit needs a :workspace parameter; call limits.take() in the handler instead`);
    }
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    // Route-level hooks run after the application's, so the principal is known.
    route.onRequest = [...existing, charge(kind, limits, workspaces)];
  });
}

/**
 * A callback-style hook, so the read path's usual case (workspace cached,
 * budget at hand) costs no promise. A workspace the caller cannot reach
 * answers WORKSPACE_NOT_FOUND here, exactly as the handler would.
 */
function charge(kind: LimitKind, limits: RateLimits, workspaces: WorkspaceService): onRequestHookHandler {
  return function rateLimit(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const principal = request.principal;
    const ref = (request.params as { workspace: string }).workspace;
    const cached = workspaces.cachedAccess(principal, ref);
    try {
      const taken = cached ? limits.take(kind, principal, cached.workspace) : workspaces.access(principal, ref).then((access) => limits.take(kind, principal, access.workspace));
      if (taken === undefined) done();
      else taken.then(() => done(), done);
    } catch (error) {
      done(error as Error);
    }
  };
}
