/** GET …/secret-folders: one folder level of a namespace with each folder's count of secrets, for browsing names as paths. */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import type { SecretFolders } from "./secret-folders.ts";
import { FolderLevel, FolderQuery } from "./secret.schemas.ts";
import type { SecretService } from "./secret.service.ts";

export const secretFolderRoutes: FastifyPluginAsyncTypebox<{ secrets: SecretService; folders: SecretFolders }> = async (app, { secrets, folders }) => {
  app.get("/api/v1/workspaces/:workspace/secret-folders", {
    config: { audit: "secret.list", rateLimit: "read" },
    schema: {
      tags: ["secrets"],
      summary: "One folder level: the folders directly under prefix, with how many secrets the caller sees in each; never a value",
      params: WorkspaceParams,
      querystring: FolderQuery,
      response: { 200: FolderLevel, ...errorResponses },
    },
    handler: async (request) => {
      const ctx = await secrets.context(request.principal, request.params.workspace, request.query.scope, request);
      request.auditTarget.workspaceId = ctx.access.workspace.id;
      return folders.level(ctx, request.query.prefix, request.query.limit);
    },
  });
};
