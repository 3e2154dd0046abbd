/**
 * `/api/v1/workspaces/{ws}/approvals`: the requests waiting for a person
 * (a use of a secret that needs approval, or an agent asking for a grant),
 * and their decisions. Whoever manages a secret sees and decides its
 * requests; every decision is audited by the route.
 */
import { APPROVAL_STATUSES, MAX_APPROVAL_WINDOW_SECONDS } from "@coffer/protocol";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { noteTarget } from "../http/audit.ts";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import type { SecretService } from "../secret/secret.service.ts";
import type { ApprovalService } from "./approval.service.ts";

const Approval = Type.Object({
  id: Type.String(),
  secretId: Type.String(),
  secretName: Type.String(),
  kind: Type.Union([Type.Literal("use"), Type.Literal("grant")], { description: "use: a relayed call or signature waits; grant: someone asks for a level" }),
  action: Type.String({ description: "use: relay or hmac-sign; grant: the level asked for" }),
  reason: Type.String(),
  requester: Type.Object({
    kind: Type.String(),
    id: Type.String(),
    name: Type.String(),
    tokenId: Type.String(),
    agent: Type.Union([Type.String(), Type.Null()]),
    session: Type.Union([Type.String(), Type.Null()]),
  }),
  status: Type.Union([Type.Literal("pending"), Type.Literal("approved"), Type.Literal("denied"), Type.Literal("expired")]),
  createdAt: Type.String(),
  expiresAt: Type.String({ description: "When a pending request is denied by itself" }),
  decidedAt: Type.Union([Type.String(), Type.Null()]),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  validUntil: Type.Union([Type.String(), Type.Null()], { description: "Approved for a while: the same token's uses pass until then" }),
});

const ApprovalParams = Type.Object({ workspace: Type.String(), id: Type.String() });

export const approvalRoutes: FastifyPluginAsyncTypebox<{ approvals: ApprovalService; secrets: SecretService }> = async (app, { approvals, secrets }) => {
  const tags = ["approvals"];
  const base = "/api/v1/workspaces/:workspace/approvals";

  app.get(base, {
    config: { audit: "approval.list", rateLimit: "read" },
    schema: {
      tags,
      summary: "Approval requests on the secrets the caller manages, newest first (pending unless status says otherwise)",
      params: WorkspaceParams,
      querystring: Type.Object({ status: Type.Optional(Type.Union([...APPROVAL_STATUSES, "all" as const].map((status) => Type.Literal(status)))) }, { additionalProperties: false }),
      response: { 200: Type.Object({ approvals: Type.Array(Approval) }), ...errorResponses },
    },
    handler: async (request) => {
      const ctx = await secrets.context(request.principal, request.params.workspace, undefined, request);
      return { approvals: await approvals.list(ctx, request.query.status) };
    },
  });

  app.post(base, {
    config: { audit: "approval.request", rateLimit: "write" },
    schema: {
      tags,
      summary: "Ask a person for a grant (see or use) on a secret the caller can name; answers the pending request at once",
      params: WorkspaceParams,
      body: Type.Object(
        {
          secret: Type.String({ description: "The secret's name or id" }),
          level: Type.Union([Type.Literal("see"), Type.Literal("use")]),
          reason: Type.Optional(Type.String({ maxLength: 500, description: "Why, for the person deciding" })),
        },
        { additionalProperties: false },
      ),
      response: { 201: Approval, ...errorResponses },
    },
    handler: async (request, reply) => {
      const ctx = await secrets.context(request.principal, request.params.workspace, undefined, request);
      const approval = await approvals.requestGrant(ctx, request.body.secret, request.body.level, request.body.reason ?? "");
      noteTarget(request, { secretId: approval.secretId, secretName: approval.secretName, subject: approval.id });
      return reply.code(201).send(approval);
    },
  });

  for (const verb of ["approve", "deny"] as const) {
    app.post(`${base}/:id/${verb}`, {
      config: { audit: `approval.${verb}`, rateLimit: "write" },
      schema: {
        tags,
        summary:
          verb === "approve"
            ? `Approve a pending request: this once, or with 'for' (seconds, at most ${MAX_APPROVAL_WINDOW_SECONDS}) every use by the same token until then; a grant request gets its grant`
            : "Deny a pending request: the waiting call fails with APPROVAL_DENIED",
        params: ApprovalParams,
        ...(verb === "approve"
          ? { body: Type.Optional(Type.Object({ for: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_APPROVAL_WINDOW_SECONDS, description: "Seconds the approval lasts for that token" })) }, { additionalProperties: false })) }
          : {}),
        response: { 200: Approval, ...errorResponses },
      },
      handler: async (request) => {
        const ctx = await secrets.context(request.principal, request.params.workspace, undefined, request);
        const forSeconds = verb === "approve" ? (request.body as { for?: number } | undefined)?.for : undefined;
        const approval = await approvals.decide(ctx, request.params.id, { approve: verb === "approve", forSeconds });
        noteTarget(request, { secretId: approval.secretId, secretName: approval.secretName, subject: `${approval.id} ${approval.kind}=${approval.action} by=${approval.requester.name}${approval.validUntil ? ` until=${approval.validUntil}` : ""}` });
        return approval;
      },
    });
  }
};
