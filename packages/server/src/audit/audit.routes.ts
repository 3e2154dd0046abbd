import type { AuditEventJson } from "@coffer/protocol";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Readable } from "node:stream";
import { Type } from "typebox";
import { invalid } from "../core/errors.ts";
import { errorResponses } from "../http/schemas.ts";
import type { AuditQuery, AuditReader } from "./audit-reader.service.ts";
import { MAX_PAGE } from "./audit.service.ts";
import type { AuditRecord } from "./audit.types.ts";

const AuditEvent = Type.Object(
  {
    seq: Type.Integer(),
    time: Type.String({ format: "date-time" }),
    actor: Type.Object({
      kind: Type.String({ description: "user, service_account or anonymous (no valid token)" }),
      id: Type.Optional(Type.String()),
      name: Type.Optional(Type.String()),
      tokenId: Type.Optional(Type.String({ description: "The token's id, never the token" })),
    }),
    action: Type.String({ description: "<resource>.<verb>, e.g. secret.read" }),
    outcome: Type.String({ description: "ok, denied, not_found or error" }),
    status: Type.Integer({ description: "The HTTP status answered" }),
    workspaceId: Type.Optional(Type.String()),
    secretId: Type.Optional(Type.String()),
    secretName: Type.Optional(Type.String()),
    subject: Type.Optional(Type.String({ description: "Another object acted on: a user, group, token, webhook…" })),
    ip: Type.String(),
    userAgent: Type.String(),
    requestId: Type.String(),
    hash: Type.String({ description: "SHA-256 chaining this event to the one before" }),
  },
  { $id: "AuditEvent" },
);

const Filters = {
  workspace: Type.Optional(Type.String({ description: "Workspace id or name; required unless the caller is an instance administrator" })),
  from: Type.Optional(Type.String({ description: "Events at or after this time (ISO 8601)" })),
  to: Type.Optional(Type.String({ description: "Events before this time (ISO 8601)" })),
  actor: Type.Optional(Type.String({ description: "An actor's id or name" })),
  secret: Type.Optional(Type.String({ description: "A secret's id or name" })),
  action: Type.Optional(Type.String({ pattern: "^[a-z0-9.-]+\\*?$", description: "An action, or a prefix ending in * (secret.*)" })),
  outcome: Type.Optional(Type.Union([Type.Literal("ok"), Type.Literal("denied"), Type.Literal("not_found"), Type.Literal("error")])),
  requestId: Type.Optional(Type.String()),
};

export function auditEventView(event: AuditRecord): AuditEventJson {
  const actor: AuditEventJson["actor"] = { kind: event.actorKind };
  if (event.actorId !== null) actor.id = event.actorId;
  if (event.actorName !== null) actor.name = event.actorName;
  if (event.tokenId !== null) actor.tokenId = event.tokenId;
  return {
    seq: Number(event.seq),
    time: new Date(Number(event.time)).toISOString(),
    actor,
    action: event.action,
    outcome: event.outcome,
    status: event.status,
    ...(event.workspaceId !== null && { workspaceId: event.workspaceId }),
    ...(event.secretId !== null && { secretId: event.secretId }),
    ...(event.secretName !== null && { secretName: event.secretName }),
    ...(event.subject !== null && { subject: event.subject }),
    ip: event.ip,
    userAgent: event.userAgent,
    requestId: event.requestId,
    hash: event.hash,
  };
}

function queryOf(q: { workspace?: string | undefined; from?: string | undefined; to?: string | undefined; actor?: string | undefined; secret?: string | undefined; action?: string | undefined; outcome?: string | undefined; requestId?: string | undefined }): AuditQuery {
  return { ...q, from: timeOf(q.from, "from"), to: timeOf(q.to, "to") };
}

function timeOf(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw invalid(`${name} must be a date-time such as 2026-11-23T10:00:00Z`);
  return time;
}

export const auditRoutes: FastifyPluginAsyncTypebox<{ reader: AuditReader }> = async (app, { reader }) => {
  app.addSchema(AuditEvent);
  const tags = ["audit"];

  app.get("/api/v1/audit", {
    config: { audit: "audit.list" },
    schema: {
      tags,
      summary: "Query the audit log, newest first (instance admins; workspace admins with ?workspace=)",
      querystring: Type.Object({
        ...Filters,
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 100 })),
        before: Type.Optional(Type.Integer({ minimum: 1, description: "Events before this seq: the `next` of the previous page" })),
        after: Type.Optional(Type.Integer({ minimum: 0, description: "Events after this seq, oldest first (for tailing)" })),
      }),
      response: { 200: Type.Object({ events: Type.Array(Type.Ref("AuditEvent")), next: Type.Optional(Type.Integer()) }), ...errorResponses },
    },
    handler: async (request) => {
      const { limit, before, after, ...filters } = request.query;
      const page = await reader.list(request.principal, queryOf(filters), { limit, before, after });
      return { events: page.events.map(auditEventView), ...(page.next !== undefined && { next: page.next }) };
    },
  });

  app.get("/api/v1/audit/export", {
    config: { audit: "audit.export" },
    schema: {
      tags,
      summary: "Export matching events as JSON lines, oldest first",
      querystring: Type.Object(Filters),
      produces: ["application/x-ndjson"],
      response: { 200: Type.String({ description: "One AuditEvent per line" }), ...errorResponses },
    },
    handler: async (request, reply) => {
      const events = reader.export(request.principal, queryOf(request.query));
      // The first page is read before answering, so a refused export is a proper error rather than a cut stream.
      const first = await events.next();
      async function* lines() {
        if (first.done) return;
        yield JSON.stringify(auditEventView(first.value)) + "\n";
        for await (const event of events) yield JSON.stringify(auditEventView(event)) + "\n";
      }
      return reply.type("application/x-ndjson").send(Readable.from(lines()));
    },
  });

  app.get("/api/v1/audit/verify", {
    config: { audit: "audit.verify" },
    schema: {
      tags,
      summary: "Check the audit log's hash chain: finds an edited, removed or reordered event and says where (instance admins)",
      response: {
        200: Type.Object({
          ok: Type.Boolean(),
          checked: Type.Integer({ description: "Events checked" }),
          problem: Type.Optional(Type.Object({ seq: Type.Integer(), reason: Type.String() })),
        }),
        ...errorResponses,
      },
    },
    handler: async (request) => reader.verify(request.principal),
  });
};
