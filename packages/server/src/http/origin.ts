/**
 * Every request is the OriginSource (core/request-origin.ts) of the services
 * it calls: routes pass the request with the caller's context, and its origin
 * is made from it only when a service asks.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { RequestOrigin } from "../core/request-origin.ts";

declare module "fastify" {
  interface FastifyRequest {
    origin(): RequestOrigin;
  }
}

/** What an agent may claim in X-Coffer-* headers; anything else is dropped, never the request. */
const ATTRIBUTION = /^[A-Za-z0-9_.:@\/+-]{1,64}$/;
export const ATTRIBUTION_NAMES = ["agent", "session", "tool"] as const;
const USER_AGENT_MAX = 256;

export function installOrigin(app: FastifyInstance): void {
  // A method on the request's prototype: nothing is made per request until a service asks.
  app.decorateRequest("origin", function origin(this: FastifyRequest): RequestOrigin {
    return {
      ip: this.ip,
      userAgent: (this.headers["user-agent"] ?? "").slice(0, USER_AGENT_MAX),
      requestId: this.id,
      route: `${this.method} ${this.routeOptions.url ?? ""}`,
      claimed: claimedAttribution(this),
    };
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
