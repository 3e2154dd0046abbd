import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";

const Health = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("unavailable")]),
  store: Type.Union([Type.Literal("ok"), Type.Literal("unreachable")]),
  sealed: Type.Boolean(),
  version: Type.String(),
});

export const sysRoutes: FastifyPluginAsyncTypebox<{ healthy: () => Promise<boolean>; sealed: () => boolean; version: string }> = async (app, options) => {
  app.get("/api/v1/sys/health", {
    config: { public: true, whileSealed: true },
    schema: { tags: ["sys"], summary: "Readiness: 200 when the store answers and the server is unsealed, 503 otherwise", security: [], response: { 200: Health, 503: Health } },
    handler: async (_request, reply) => {
      const reachable = await options.healthy();
      const sealed = options.sealed();
      const ok = reachable && !sealed;
      return reply.code(ok ? 200 : 503).send({ status: ok ? "ok" : "unavailable", store: reachable ? "ok" : "unreachable", sealed, version: options.version });
    },
  });

  app.get("/api/v1/openapi.json", {
    config: { public: true },
    schema: { hide: true },
    handler: async () => app.swagger(),
  });
};
