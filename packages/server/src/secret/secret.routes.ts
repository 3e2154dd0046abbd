import type { SecretScope } from "@coffer/protocol";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { errorResponses } from "../http/schemas.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import type { SecretContext, SecretService } from "./secret.service.ts";
import {
  CreateBody,
  DeleteQuery,
  ListQuery,
  PatchBody,
  ReadQuery,
  ReplaceBody,
  RollbackBody,
  ScopeQuery,
  Secret,
  SecretList,
  SecretParams,
  SecretSummary,
  VersionList,
  VersionParams,
} from "./secret.schemas.ts";

export interface SecretRoutesOptions {
  secrets: SecretService;
  workspaces: WorkspaceService;
}

export const secretRoutes: FastifyPluginAsyncTypebox<SecretRoutesOptions> = async (app, { secrets, workspaces }) => {
  app.addSchema(SecretSummary);
  app.addSchema(Secret);

  async function contextOf(request: FastifyRequest, workspace: string, scope: SecretScope | undefined): Promise<SecretContext> {
    return { principal: request.principal, access: await workspaces.access(request.principal, workspace), scope: scope ?? "shared" };
  }

  const tags = ["secrets"];
  const base = "/api/v1/workspaces/:workspace/secrets";
  const WorkspaceOnly = Type.Object({ workspace: Type.String({ description: "Workspace id or name" }) });

  app.get(base, {
    schema: { tags, summary: "List secrets: names, keys, types, labels and ages; never values", params: WorkspaceOnly, querystring: ListQuery, response: { 200: SecretList, ...errorResponses } },
    handler: async (request) => secrets.list(await contextOf(request, request.params.workspace, request.query.scope), request.query),
  });

  app.post(base, {
    schema: { tags, summary: "Create a secret", params: WorkspaceOnly, body: CreateBody, response: { 201: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request, reply) => {
      const { scope, ...input } = request.body;
      const secret = await secrets.create(await contextOf(request, request.params.workspace, scope), input);
      return reply.code(201).send(secret);
    },
  });

  app.get(`${base}/:secret`, {
    schema: { tags, summary: "Read a secret (the current version, or ?version=N)", params: SecretParams, querystring: ReadQuery, response: { 200: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request) =>
      secrets.get(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret, request.query.version),
  });

  app.put(`${base}/:secret`, {
    schema: { tags, summary: "Replace every key/value pair (a new version); creates the secret if the name is new", params: SecretParams, querystring: ScopeQuery, body: ReplaceBody, response: { 200: Type.Ref("Secret"), 201: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request, reply) => {
      const { data, ...input } = request.body;
      const ctx = await contextOf(request, request.params.workspace, request.query.scope);
      const { secret, created } = await secrets.replace(ctx, request.params.secret, data, { ...input, upsert: true });
      return reply.code(created ? 201 : 200).send(secret);
    },
  });

  app.patch(`${base}/:secret`, {
    schema: { tags, summary: "Set or remove some keys (a new version), or change label and tags", params: SecretParams, querystring: ScopeQuery, body: PatchBody, response: { 200: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request) => {
      const { data, ...input } = request.body;
      return secrets.patch(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret, data, input);
    },
  });

  app.delete(`${base}/:secret`, {
    schema: { tags, summary: "Soft-delete a secret (restorable), or destroy it for good with ?permanent=true", params: SecretParams, querystring: DeleteQuery, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      const ctx = await contextOf(request, request.params.workspace, request.query.scope);
      if (request.query.permanent) await secrets.destroy(ctx, request.params.secret);
      else await secrets.softDelete(ctx, request.params.secret);
      return reply.code(204).send(null);
    },
  });

  app.post(`${base}/:secret/restore`, {
    schema: { tags, summary: "Restore a soft-deleted secret", params: SecretParams, querystring: ScopeQuery, response: { 200: Type.Ref("SecretSummary"), ...errorResponses } },
    handler: async (request) =>
      secrets.restore(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret),
  });

  app.get(`${base}/:secret/versions`, {
    schema: { tags, summary: "List a secret's versions (metadata only)", params: SecretParams, querystring: ScopeQuery, response: { 200: VersionList, ...errorResponses } },
    handler: async (request) => ({
      versions: await secrets.versions(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret),
    }),
  });

  app.get(`${base}/:secret/versions/:version`, {
    schema: { tags, summary: "Read one version of a secret", params: VersionParams, querystring: ScopeQuery, response: { 200: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request) =>
      secrets.get(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret, request.params.version),
  });

  app.post(`${base}/:secret/rollback`, {
    schema: { tags, summary: "Roll back: write a new version equal to an old one", params: SecretParams, querystring: ScopeQuery, body: RollbackBody, response: { 200: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request) =>
      secrets.rollback(
        await contextOf(request, request.params.workspace, request.query.scope),
        request.params.secret,
        request.body.version,
        request.body.cas,
      ),
  });
};
