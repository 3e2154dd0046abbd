/**
 * A route's `config` (public, token, audit, whileSealed…), read once per
 * request. Fastify's `request.routeOptions` builds a new object of a dozen
 * fields on every access, and the hooks every request passes (seal gate,
 * authentication, audit) each read the config from it.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";

type RouteConfig = FastifyRequest["routeOptions"]["config"];

declare module "fastify" {
  interface FastifyRequest {
    routeConfig: RouteConfig;
  }
}

/** Must be installed before every hook that reads `request.routeConfig`. */
export function installRouteConfig(app: FastifyInstance): void {
  app.decorateRequest("routeConfig", null as unknown as RouteConfig);
  app.addHook("onRequest", (request, _reply, done) => {
    request.routeConfig = request.routeOptions.config;
    done();
  });
}
