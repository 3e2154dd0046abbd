import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import { MAX_VERSIONS_LIMIT, type WorkspaceService, type WorkspaceView } from "./workspace.service.ts";

const Workspace = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Type.Union([Type.String(), Type.Null()], { description: "The caller's role" }),
    maxVersions: Type.Integer({ description: "Versions kept per secret" }),
    createdAt: Type.String({ format: "date-time" }),
  },
  { $id: "Workspace" },
);

const MaxVersions = Type.Integer({ minimum: 1, maximum: MAX_VERSIONS_LIMIT });

function view(workspace: WorkspaceView) {
  return { ...workspace, createdAt: new Date(workspace.createdAt).toISOString() };
}

export const workspaceRoutes: FastifyPluginAsyncTypebox<{ workspaces: WorkspaceService }> = async (app, { workspaces }) => {
  app.addSchema(Workspace);
  const tags = ["workspaces"];

  app.get("/api/v1/workspaces", {
    schema: { tags, summary: "List the workspaces the caller belongs to", response: { 200: Type.Object({ workspaces: Type.Array(Type.Ref("Workspace")) }), ...errorResponses } },
    handler: async (request) => ({ workspaces: (await workspaces.list(request.principal)).map(view) }),
  });

  app.post("/api/v1/workspaces", {
    schema: {
      tags,
      summary: "Create a workspace (administrators)",
      body: Type.Object({ name: Type.String(), maxVersions: Type.Optional(MaxVersions) }, { additionalProperties: false }),
      response: { 201: Type.Ref("Workspace"), ...errorResponses },
    },
    handler: async (request, reply) => reply.code(201).send(view(await workspaces.create(request.principal, request.body))),
  });

  app.get("/api/v1/workspaces/:workspace", {
    schema: { tags, summary: "Read a workspace and its settings", params: WorkspaceParams, response: { 200: Type.Ref("Workspace"), ...errorResponses } },
    handler: async (request) => {
      const { workspace, role } = await workspaces.access(request.principal, request.params.workspace);
      return view({ ...workspace, role: role ?? null });
    },
  });

  app.patch("/api/v1/workspaces/:workspace", {
    schema: {
      tags,
      summary: "Change workspace settings (owners and admins)",
      params: WorkspaceParams,
      body: Type.Object({ maxVersions: Type.Optional(MaxVersions) }, { additionalProperties: false }),
      response: { 200: Type.Ref("Workspace"), ...errorResponses },
    },
    handler: async (request) => view(await workspaces.updateSettings(request.principal, request.params.workspace, request.body)),
  });
};
