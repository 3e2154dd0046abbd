import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";

const Health = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("unavailable")]),
  /** Send this node requests: unsealed, store answering, not draining (also the 200/503 of the answer). */
  ready: Type.Boolean(),
  store: Type.Union([Type.Literal("ok"), Type.Literal("unreachable")]),
  sealed: Type.Boolean(),
  /** The node is shutting down: it finishes what it has, and a balancer should send it nothing new. */
  draining: Type.Boolean(),
  version: Type.String(),
});

export interface SysRouteOptions {
  healthy: () => Promise<boolean>;
  sealed: () => boolean;
  draining: () => boolean;
  version: string;
  /** The OpenAPI document (http/openapi.ts). */
  openApi: () => Promise<unknown>;
}

export const sysRoutes: FastifyPluginAsyncTypebox<SysRouteOptions> = async (app, options) => {
  app.get("/api/v1/sys/health", {
    config: { public: true, whileSealed: true },
    schema: {
      tags: ["sys"],
      summary: "For load balancers: 200 when the node is ready (unsealed, store answering, not draining), 503 otherwise; the body says which",
      security: [],
      response: { 200: Health, 503: Health },
    },
    handler: async (_request, reply) => {
      // Every part is checked, draining or not: an operator watching a node leave still sees its store and seal.
      const reachable = await options.healthy();
      const sealed = options.sealed();
      const draining = options.draining();
      const ready = reachable && !sealed && !draining;
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ok" : "unavailable", ready, store: reachable ? "ok" : "unreachable", sealed, draining, version: options.version });
    },
  });

  app.get("/api/v1/openapi.json", {
    config: { public: true },
    schema: { hide: true },
    handler: () => options.openApi(),
  });
};
