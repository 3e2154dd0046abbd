import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import type { GroupService, GroupView } from "./group.service.ts";

const Group = Type.Object({
  id: Type.String(),
  name: Type.String(),
  builtin: Type.Boolean({ description: "everyone: holds every member, cannot change" }),
  members: Type.Array(Type.String({ description: "user:NAME or sa:NAME" })),
  createdAt: Type.String({ format: "date-time" }),
});

function view(group: GroupView) {
  return { ...group, createdAt: new Date(group.createdAt).toISOString() };
}

export const groupRoutes: FastifyPluginAsyncTypebox<{ groups: GroupService }> = async (app, { groups }) => {
  const tags = ["groups"];
  const base = "/api/v1/workspaces/:workspace/groups";
  const GroupParams = Type.Object({ workspace: Type.String(), group: Type.String({ description: "Group id or name" }) });
  const MemberParams = Type.Object({ workspace: Type.String(), group: Type.String(), member: Type.String({ description: "user:NAME, sa:NAME or an id" }) });

  app.get(base, {
    config: { audit: "group.list" },
    schema: { tags, summary: "List the workspace's groups and their members (workspace admins)", params: WorkspaceParams, response: { 200: Type.Object({ groups: Type.Array(Group) }), ...errorResponses } },
    handler: async (request) => ({ groups: (await groups.list(request.principal, request.params.workspace)).map(view) }),
  });

  app.post(base, {
    config: { audit: "group.create" },
    schema: {
      tags,
      summary: "Create a group (workspace admins)",
      params: WorkspaceParams,
      body: Type.Object({ name: Type.String() }, { additionalProperties: false }),
      response: { 201: Group, ...errorResponses },
    },
    handler: async (request, reply) => reply.code(201).send(view(await groups.create(request.principal, request.params.workspace, request.body.name))),
  });

  app.get(`${base}/:group`, {
    config: { audit: "group.read" },
    schema: { tags, summary: "Read a group (workspace admins)", params: GroupParams, response: { 200: Group, ...errorResponses } },
    handler: async (request) => view(await groups.get(request.principal, request.params.workspace, request.params.group)),
  });

  app.delete(`${base}/:group`, {
    config: { audit: "group.delete" },
    schema: { tags, summary: "Remove a group and its grants (workspace admins)", params: GroupParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await groups.remove(request.principal, request.params.workspace, request.params.group);
      return reply.code(204).send(null);
    },
  });

  app.put(`${base}/:group/members/:member`, {
    config: { audit: "group.member-add" },
    schema: { tags, summary: "Add a user or service account to a group (workspace admins)", params: MemberParams, response: { 200: Group, ...errorResponses } },
    handler: async (request) => view(await groups.addMember(request.principal, request.params.workspace, request.params.group, request.params.member)),
  });

  app.delete(`${base}/:group/members/:member`, {
    config: { audit: "group.member-remove" },
    schema: { tags, summary: "Remove a member from a group (workspace admins)", params: MemberParams, response: { 200: Group, ...errorResponses } },
    handler: async (request) => view(await groups.removeMember(request.principal, request.params.workspace, request.params.group, request.params.member)),
  });
};
