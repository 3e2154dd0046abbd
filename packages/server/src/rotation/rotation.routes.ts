import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { LIMITS } from "@coffer/protocol";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import { MAX_INTERVAL_DAYS } from "./rotation.rules.ts";
import { MAX_DEFAULTS, type RotationDefaults, type RotationService } from "./rotation.service.ts";

const Default = Type.Object(
  { label: Type.String({ minLength: 1, maxLength: LIMITS.labelLength }), intervalDays: Type.Integer({ minimum: 1, maximum: MAX_INTERVAL_DAYS }) },
  { additionalProperties: false },
);
const Defaults = Type.Object({
  defaults: Type.Array(Default, { description: "The rotation interval of secrets with this label and none of their own" }),
  graceDays: Type.Integer({ description: "How long a superseded HMAC or INTERNAL_API_KEY version stays valid and kept (server setting)" }),
});

export const rotationRoutes: FastifyPluginAsyncTypebox<{ rotation: RotationService }> = async (app, { rotation }) => {
  const tags = ["rotation"];
  const path = "/api/v1/workspaces/:workspace/rotation-defaults";
  const answer = (request: FastifyRequest, result: RotationDefaults) => {
    request.auditTarget = { ...request.auditTarget, workspaceId: result.workspaceId, subject: "rotation-defaults" };
    return { defaults: result.defaults, graceDays: result.graceDays };
  };

  app.get(path, {
    config: { audit: "rotation.defaults-read" },
    schema: { tags, summary: "The workspace's rotation intervals per label (members)", params: WorkspaceParams, response: { 200: Defaults, ...errorResponses } },
    handler: async (request) => answer(request, await rotation.defaults(request.principal, request.params.workspace)),
  });

  app.put(path, {
    config: { audit: "rotation.defaults-update" },
    schema: {
      tags,
      summary: "Replace the workspace's rotation intervals per label (workspace admins)",
      params: WorkspaceParams,
      body: Type.Object({ defaults: Type.Array(Default, { maxItems: MAX_DEFAULTS }) }, { additionalProperties: false }),
      response: { 200: Defaults, ...errorResponses },
    },
    handler: async (request) => answer(request, await rotation.setDefaults(request.principal, request.params.workspace, request.body.defaults)),
  });
};
