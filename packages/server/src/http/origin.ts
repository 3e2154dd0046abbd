/**
 * Makes each request's origin (core/request-origin.ts) known to the services
 * it calls. Set before the handler but after the body is read: a request
 * body's events run outside the context an earlier hook would set.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { withOrigin } from "../core/request-origin.ts";

/** What an agent may claim in X-Coffer-* headers; anything else is dropped, never the request. */
const ATTRIBUTION = /^[A-Za-z0-9_.:@\/+-]{1,64}$/;
export const ATTRIBUTION_NAMES = ["agent", "session", "tool"] as const;
const USER_AGENT_MAX = 256;

export function installOrigin(app: FastifyInstance): void {
  app.addHook("preValidation", (request, _reply, done) => {
    withOrigin(
      () => ({
        ip: request.ip,
        userAgent: (request.headers["user-agent"] ?? "").slice(0, USER_AGENT_MAX),
        requestId: request.id,
        route: `${request.method} ${request.routeOptions.url ?? ""}`,
        claimed: claimedAttribution(request),
      }),
      done,
    );
  });
}

/** The X-Coffer-Agent, -Session and -Tool headers that are well-formed. */
export function claimedAttribution(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ATTRIBUTION_NAMES) {
    const header = request.headers[`x-coffer-${name}`];
    if (typeof header === "string" && ATTRIBUTION.test(header)) out[name] = header;
  }
  return out;
}
