import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import { RATE_LIMIT_MAX, WORKSPACE_FACTOR } from "../limits/rate-limits.ts";
import type { SecretService } from "../secret/secret.service.ts";
import { MAX_ALERT_DAYS, MAX_DELETE_AFTER_SECONDS, MAX_VERSIONS_LIMIT, type MemberView, type WorkspaceService, type WorkspaceView } from "./workspace.service.ts";

const Member = Type.Object({
  userId: Type.String(),
  username: Type.String(),
  role: Type.String({ description: "owner, admin, member or viewer" }),
  disabled: Type.Boolean(),
  personalSecrets: Type.Integer({ description: "How many personal secrets the member keeps here; never what they are" }),
  createdAt: Type.String({ format: "date-time" }),
});

function memberView(member: MemberView) {
  return { ...member, createdAt: new Date(member.createdAt).toISOString() };
}

const Workspace = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Type.Union([Type.String(), Type.Null()], { description: "The caller's role" }),
    maxVersions: Type.Integer({ description: "Versions kept per secret" }),
    casRequired: Type.Boolean({ description: "Every write to a secret here must give check-and-set (cas)" }),
    deleteVersionAfter: Type.Integer({ description: "Seconds after which new versions are deleted; 0: never" }),
    rateLimits: Type.Object({
      readsPerSecond: Type.Integer({ description: `Reads (values, lists, versions, grants) per second per token; the workspace allows ${WORKSPACE_FACTOR}× that across tokens` }),
      writesPerSecond: Type.Integer({ description: `Changes per second per token; the workspace allows ${WORKSPACE_FACTOR}× that across tokens` }),
    }),
    expiryWarningDays: Type.Integer({ description: "Days before a secret's expiry that the warning alert goes out" }),
    unusedAlertDays: Type.Union([Type.Integer(), Type.Null()], { description: "Days without a read or use after which a secret is reported unused; null: not reported" }),
    createdAt: Type.String({ format: "date-time" }),
  },
  { $id: "Workspace" },
);

const MaxVersions = Type.Integer({ minimum: 1, maximum: MAX_VERSIONS_LIMIT });
const PerSecond = Type.Integer({ minimum: 1, maximum: RATE_LIMIT_MAX });
const RateLimitsChange = Type.Union(
  [
    Type.Object({ readsPerSecond: Type.Optional(PerSecond), writesPerSecond: Type.Optional(PerSecond) }, { additionalProperties: false }),
    Type.Null(),
  ],
  { description: "Per-token limits to set (either or both); null follows the server's defaults again" },
);
const Settings = {
  maxVersions: Type.Optional(MaxVersions),
  casRequired: Type.Optional(Type.Boolean({ description: "Require check-and-set on every write" })),
  deleteVersionAfter: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_DELETE_AFTER_SECONDS, description: "Seconds after which new versions are deleted; 0: never" })),
  rateLimits: Type.Optional(RateLimitsChange),
  expiryWarningDays: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ALERT_DAYS, description: "Days before a secret's expiry that the warning alert goes out (default 7)" })),
  unusedAlertDays: Type.Optional(
    Type.Union([Type.Integer({ minimum: 1, maximum: MAX_ALERT_DAYS }), Type.Null()], { description: "Alert on secrets not read or used for this many days; null: never (the default)" }),
  ),
};

function view(workspace: WorkspaceView) {
  return { ...workspace, createdAt: new Date(workspace.createdAt).toISOString() };
}

export const workspaceRoutes: FastifyPluginAsyncTypebox<{ workspaces: WorkspaceService; secrets: SecretService }> = async (app, { workspaces, secrets }) => {
  app.addSchema(Workspace);
  const tags = ["workspaces"];

  app.get("/api/v1/workspaces", {
    config: { audit: "workspace.list" },
    schema: { tags, summary: "List the workspaces the caller belongs to", response: { 200: Type.Object({ workspaces: Type.Array(Type.Ref("Workspace")) }), ...errorResponses } },
    handler: async (request) => ({ workspaces: (await workspaces.list(request.principal)).map(view) }),
  });

  app.post("/api/v1/workspaces", {
    config: { audit: "workspace.create" },
    schema: {
      tags,
      summary: "Create a workspace (administrators)",
      body: Type.Object({ name: Type.String(), ...Settings }, { additionalProperties: false }),
      response: { 201: Type.Ref("Workspace"), ...errorResponses },
    },
    handler: async (request, reply) => reply.code(201).send(view(await workspaces.create(request.principal, request.body))),
  });

  app.get("/api/v1/workspaces/:workspace", {
    config: { audit: "workspace.read" },
    schema: { tags, summary: "Read a workspace and its settings", params: WorkspaceParams, response: { 200: Type.Ref("Workspace"), ...errorResponses } },
    handler: async (request) => view(await workspaces.get(request.principal, request.params.workspace)),
  });

  app.patch("/api/v1/workspaces/:workspace", {
    config: { audit: "workspace.update" },
    schema: {
      tags,
      summary: "Change workspace settings (owners and admins)",
      params: WorkspaceParams,
      body: Type.Object(Settings, { additionalProperties: false }),
      response: { 200: Type.Ref("Workspace"), ...errorResponses },
    },
    handler: async (request) => view(await workspaces.updateSettings(request.principal, request.params.workspace, request.body)),
  });

  app.delete("/api/v1/workspaces/:workspace", {
    config: { audit: "workspace.delete" },
    schema: { tags, summary: "Delete a workspace with every secret, group and service account in it (administrators)", params: WorkspaceParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await workspaces.remove(request.principal, request.params.workspace);
      return reply.code(204).send(null);
    },
  });

  const members = ["members"];
  const MemberParams = Type.Object({ workspace: Type.String(), user: Type.String({ description: "User id or username" }) });

  app.get("/api/v1/workspaces/:workspace/members", {
    config: { audit: "member.list" },
    schema: { tags: members, summary: "Members, roles and personal secret counts (workspace admins)", params: WorkspaceParams, response: { 200: Type.Object({ members: Type.Array(Member) }), ...errorResponses } },
    handler: async (request) => ({ members: (await workspaces.members(request.principal, request.params.workspace)).map(memberView) }),
  });

  app.put("/api/v1/workspaces/:workspace/members/:user", {
    config: { audit: "member.set" },
    schema: {
      tags: members,
      summary: "Add a user to the workspace or change its role (workspace admins; owners for ownership)",
      params: MemberParams,
      body: Type.Object({ role: Type.String({ description: "owner, admin, member or viewer" }) }, { additionalProperties: false }),
      response: { 200: Member, ...errorResponses },
    },
    handler: async (request) => memberView(await workspaces.setMember(request.principal, request.params.workspace, request.params.user, request.body.role)),
  });

  app.delete("/api/v1/workspaces/:workspace/members/:user", {
    config: { audit: "member.remove" },
    schema: { tags: members, summary: "Remove a member with its group memberships and grants; its personal secrets stay until deleted", params: MemberParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await workspaces.removeMember(request.principal, request.params.workspace, request.params.user);
      return reply.code(204).send(null);
    },
  });

  app.delete("/api/v1/workspaces/:workspace/members/:user/personal-secrets", {
    config: { audit: "member.personal-secrets-delete", rateLimit: "write" },
    schema: {
      tags: members,
      summary: "Destroy a (departed) member's personal secrets, unread (workspace admins)",
      params: MemberParams,
      response: { 200: Type.Object({ destroyed: Type.Integer() }), ...errorResponses },
    },
    handler: async (request) => {
      const ctx = await secrets.context(request.principal, request.params.workspace, undefined, request);
      const user = await workspaces.findUser(request.params.user).catch(() => undefined);
      return { destroyed: await secrets.destroyPersonalOf(ctx, user?.id ?? "") };
    },
  });
};
