/** `GET …/unused-secrets`: the shared secrets nobody has read or used for a while. */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import { MAX_ALERT_DAYS } from "../workspace/workspace.service.ts";
import { DEFAULT_UNUSED_DAYS, type LifecycleService } from "./lifecycle.service.ts";

const UnusedSecret = Type.Object({
  id: Type.String(),
  name: Type.String(),
  label: Type.String(),
  type: Type.String(),
  createdAt: Type.String({ format: "date-time" }),
  lastUsedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()], { description: "The last read or use (recorded within seconds); null: never since it was created" }),
});

export const lifecycleRoutes: FastifyPluginAsyncTypebox<{ lifecycle: LifecycleService }> = async (app, { lifecycle }) => {
  app.get("/api/v1/workspaces/:workspace/unused-secrets", {
    config: { audit: "secret.list-unused", rateLimit: "read" },
    schema: {
      tags: ["secrets"],
      summary: "Shared secrets not read or used for some days: names and dates, never values (owners and admins)",
      params: WorkspaceParams,
      querystring: Type.Object(
        {
          days: Type.Optional(
            Type.Integer({ minimum: 1, maximum: MAX_ALERT_DAYS, description: `Idle days; default the workspace's unusedAlertDays, else ${DEFAULT_UNUSED_DAYS}` }),
          ),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ days: Type.Integer(), secrets: Type.Array(UnusedSecret) }), ...errorResponses },
    },
    handler: async (request) => {
      const { days, secrets } = await lifecycle.unused(request.principal, request.params.workspace, request.query.days);
      return {
        days,
        secrets: secrets.map((secret) => ({
          ...secret,
          createdAt: new Date(secret.createdAt).toISOString(),
          lastUsedAt: secret.lastUsedAt === null ? null : new Date(secret.lastUsedAt).toISOString(),
        })),
      };
    },
  });
};
