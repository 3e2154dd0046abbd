/**
 * The relay's HTTP surface: `POST …/relay` (one described request), the
 * base-URL routes' CRUD and the proxy `/relay/{ws}/{route}/…`. A relayed
 * call is audited as `secret.relay`, one event per secret it used, written
 * when the call is over (a streamed answer's bytes are known only then).
 */
import type { SecretScope } from "@coffer/protocol";
import { isUtf8 } from "node:buffer";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { AuditLog } from "../audit/audit.service.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { eventOf, markRecorded } from "../http/audit.ts";
import { bearerToken } from "../http/auth.ts";
import { ATTRIBUTION_NAMES, claimedAttribution } from "../http/origin.ts";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import type { SecretContext, SecretService } from "../secret/secret.service.ts";
import type { RelayRouteService } from "./relay-routes.service.ts";
import { MAX_REQUEST_BODY, type RelayAnswer, type RelayRecord, type RelayService } from "./relay.service.ts";

export interface RelayRoutesOptions {
  relay: RelayService;
  routes: RelayRouteService;
  secrets: SecretService;
  /** null: auditing is off. */
  audit: AuditLog | null;
  clock: Clock;
}

/** A JSON body carries the request's body as base64 at worst: 4/3 of the limit, and room for the rest. */
const JSON_BODY_LIMIT = Math.ceil((MAX_REQUEST_BODY * 4) / 3) + 64 * 1024;

const RelayBody = Type.Object(
  {
    method: Type.String({ description: "GET, POST, …" }),
    url: Type.String({ maxLength: 8192, description: "http(s) URL; placeholders only in query parameter values" }),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Header values may hold @{vault.NAME} / @{vault.NAME.KEY}" })),
    body: Type.Optional(Type.String({ description: "The request body (at most 1 MiB once decoded); may hold placeholders" })),
    bodyEncoding: Type.Optional(Type.Union([Type.Literal("utf8"), Type.Literal("base64")], { description: "How body is given; default utf8" })),
    scope: Type.Optional(Type.Union([Type.Literal("shared"), Type.Literal("personal")], { description: "Where placeholder names are looked up; default shared" })),
    stream: Type.Optional(Type.Boolean({ description: "Answer with the upstream's status, headers and body as a stream (X-Coffer-Relay: 1)" })),
    timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "Seconds the upstream may stay silent; at most the server's --relay-timeout (default 30)" })),
  },
  { additionalProperties: false },
);

const RelayAnswerBody = Type.Object({
  status: Type.Integer({ description: "The upstream's status" }),
  headers: Type.Record(Type.String(), Type.String(), { description: "The upstream's headers, redacted" }),
  body: Type.String({ description: "The upstream's body, each value replaced by its placeholder" }),
  bodyEncoding: Type.Union([Type.Literal("utf8"), Type.Literal("base64")]),
});

const Templates = (what: string) => Type.Record(Type.String(), Type.String({ maxLength: 4096 }), { description: `${what} templates: text with @{vault.NAME} placeholders, never a value` });
const RelayRouteView = Type.Object({
  name: Type.String(),
  target: Type.String({ description: "http(s) URL the route forwards to; the caller's path follows it" }),
  headers: Templates("Header"),
  query: Templates("Query parameter"),
  description: Type.String(),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
});
const RouteParams = Type.Object({ workspace: Type.String({ description: "Workspace id or name" }), route: Type.String({ description: "Route name: [a-z0-9][a-z0-9-]{0,62}" }) });
const PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

export const relayRoutes: FastifyPluginAsyncTypebox<RelayRoutesOptions> = async (app, { relay, routes, secrets, audit, clock }) => {
  const tags = ["relay"];

  /** Records one `secret.relay` event per secret used (one without a secret when the call failed before naming any). */
  const recordCall = async (request: FastifyRequest, record: RelayRecord, status: number, startedAt: number, via: string, workspaceId: string | undefined) => {
    if (audit === null) return;
    const event = eventOf(request, "secret.relay", status, clock(), workspaceId ?? null);
    event.subject =
      `${via} host=${record.host || "-"} method=${record.method || "-"} upstream=${record.status || "-"} sent=${record.bytesSent} ` +
      `received=${record.bytesReceived} ms=${Math.max(0, clock() - startedAt)}${attribution(request)}`;
    // A relayed GET or HEAD is a read (--audit-sync changes): answered once its event is written, synced soon after; any other method may change something upstream, so it waits for the sync.
    const read = record.method === "GET" || record.method === "HEAD";
    const used = record.secrets;
    if (used.length <= 1) return audit.record({ ...event, secretId: used[0]?.id ?? null, secretName: used[0]?.name ?? null }, read);
    await Promise.all(used.map((secret) => audit.record({ ...event, secretId: secret.id, secretName: secret.name }, read)));
  };

  /** Runs one relayed call in the caller's context of `workspace` and answers it, JSON or streamed; every outcome, refusals included, is audited. */
  const answer = async (
    request: FastifyRequest,
    reply: FastifyReply,
    via: string,
    where: { workspace: string; scope?: SecretScope | undefined },
    stream: boolean,
    call: (ctx: SecretContext, record: RelayRecord) => Promise<RelayAnswer>,
  ) => {
    const startedAt = clock();
    // This handler records the call's events itself; what fails before it runs (authentication, validation) the audit hook records.
    markRecorded(request);
    reply.header("x-request-id", request.id);
    const record: RelayRecord = { secrets: [], host: "", method: request.method, status: 0, bytesSent: 0, bytesReceived: 0 };
    let workspaceId: string | undefined;
    let relayed: RelayAnswer;
    try {
      const ctx = await secrets.context(request.principal, where.workspace, where.scope, request);
      workspaceId = ctx.access.workspace.id;
      relayed = await call(ctx, record);
    } catch (error) {
      const status = error instanceof CofferError ? error.status : 500;
      await recordCall(request, record, status, startedAt, via, workspaceId).catch(() => {});
      throw error;
    }
    if (!stream) {
      let body: Buffer;
      try {
        body = Buffer.isBuffer(relayed.body) ? relayed.body : Buffer.concat(await relayed.body.toArray());
      } catch (error) {
        await recordCall(request, record, (error as CofferError).status ?? 502, startedAt, via, workspaceId).catch(() => {});
        throw error;
      }
      try {
        await recordCall(request, record, 200, startedAt, via, workspaceId);
      } catch {
        throw new CofferError("AUDIT_UNAVAILABLE", "the audit log could not record this relayed call, so its answer is withheld; try again shortly");
      }
      const utf8 = isUtf8(body);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(relayed.headers)) headers[name] = Array.isArray(value) ? value.join(", ") : value;
      return { status: relayed.status, headers, body: body.toString(utf8 ? "utf8" : "base64"), bodyEncoding: utf8 ? ("utf8" as const) : ("base64" as const) };
    }
    // A streamed answer is audited when it is over: its size and outcome are known only then.
    reply.raw.once("close", () => {
      const status = reply.raw.writableFinished ? relayed.status : 499;
      recordCall(request, record, status, startedAt, via, workspaceId).catch((error: Error) => request.log.error(`relay audit failed: ${error.message}`));
    });
    if (!Buffer.isBuffer(relayed.body)) relayed.body.on("error", (error) => request.log.warn(`relay stream ended early: ${error instanceof CofferError ? error.code : "error"}`));
    reply.code(relayed.status).headers(relayed.headers).header("x-coffer-relay", "1");
    return reply.send(relayed.body);
  };

  app.post("/api/v1/workspaces/:workspace/relay", {
    bodyLimit: JSON_BODY_LIMIT,
    config: { audit: "secret.relay", rateLimit: "read" },
    schema: {
      tags,
      summary: "Make an HTTP call with secrets the caller may only use (placeholders @{vault.NAME}); the answer comes back with every value redacted",
      params: Type.Object({ workspace: Type.String() }),
      body: RelayBody,
      response: { 200: RelayAnswerBody, ...errorResponses },
    },
    handler: async (request, reply) => {
      const input = request.body;
      const body = input.body === undefined ? undefined : decodeBody(input.body, input.bodyEncoding ?? "utf8");
      return answer(request, reply, "via=api", { workspace: request.params.workspace, scope: input.scope }, input.stream === true, (ctx, record) =>
        relay.relay(ctx, { method: input.method, url: input.url, headers: input.headers, body, timeout: input.timeout }, record),
      );
    },
  });

  // ---- base-URL routes: any member reads them, workspace admins change them
  const routesPath = "/api/v1/workspaces/:workspace/relay-routes";
  const noteRoute = (request: FastifyRequest, workspaceId: string, name: string | undefined) => {
    request.auditTarget = { ...request.auditTarget, workspaceId, subject: name === undefined ? "relay-routes" : `relay-route=${name}` };
  };

  app.get(routesPath, {
    config: { audit: "relay.routes-list" },
    schema: { tags, summary: "The workspace's base-URL relay routes (members)", params: WorkspaceParams, response: { 200: Type.Object({ routes: Type.Array(RelayRouteView) }), ...errorResponses } },
    handler: async (request) => {
      const listed = await routes.list(request.principal, request.params.workspace);
      noteRoute(request, listed.workspaceId, undefined);
      return { routes: listed.routes };
    },
  });

  app.get(`${routesPath}/:route`, {
    config: { audit: "relay.route-read" },
    schema: { tags, summary: "One base-URL relay route (members)", params: RouteParams, response: { 200: RelayRouteView, ...errorResponses } },
    handler: async (request) => {
      const found = await routes.get(request.principal, request.params.workspace, request.params.route);
      noteRoute(request, found.workspaceId, found.route.name);
      return found.route;
    },
  });

  app.put(`${routesPath}/:route`, {
    config: { audit: "relay.route-put" },
    schema: {
      tags,
      summary: "Create or replace a base-URL relay route: /relay/{workspace}/{route}/… forwards to target with the templates filled in (workspace admins)",
      params: RouteParams,
      body: Type.Object(
        {
          target: Type.String({ maxLength: 2048, description: "http(s) URL, optionally with a path prefix; no query" }),
          headers: Type.Optional(Templates("Header")),
          query: Type.Optional(Templates("Query parameter")),
          description: Type.Optional(Type.String({ maxLength: 500 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: RelayRouteView, ...errorResponses },
    },
    handler: async (request) => {
      const saved = await routes.put(request.principal, request.params.workspace, request.params.route, request.body);
      noteRoute(request, saved.workspaceId, saved.route.name);
      return saved.route;
    },
  });

  app.delete(`${routesPath}/:route`, {
    config: { audit: "relay.route-delete" },
    schema: { tags, summary: "Delete a base-URL relay route (workspace admins)", params: RouteParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      const { workspaceId } = await routes.delete(request.principal, request.params.workspace, request.params.route);
      noteRoute(request, workspaceId, request.params.route);
      return reply.code(204).send(null);
    },
  });

  // ---- the proxy: an unchanged SDK's base URL. Its own Coffer token arrives where the SDK puts an API key
  // (Authorization: Bearer, or x-api-key), and the route's templates are the only credential that leaves.
  await app.register(async (proxy) => {
    // Any body, as bytes: it is forwarded as sent, never parsed or searched for placeholders.
    proxy.removeAllContentTypeParsers();
    proxy.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: MAX_REQUEST_BODY }, (_request, body, done) => done(null, body));
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const { workspace, route: name } = request.params as { workspace: string; route: string };
      const { path, query } = tailOf(request.url);
      return answer(request, reply, `route=${name}`, { workspace }, true, async (ctx, record) => {
        const { route } = await routes.find(ctx.access, name);
        const headers: Record<string, string> = {};
        for (const [header, value] of Object.entries(request.headers)) if (value !== undefined) headers[header] = Array.isArray(value) ? value.join(", ") : value;
        const body = Buffer.isBuffer(request.body) ? request.body : undefined;
        return relay.relayRoute(ctx, route, { method: request.method, path, query, headers, body }, record);
      });
    };
    for (const url of ["/relay/:workspace/:route", "/relay/:workspace/:route/*"]) {
      proxy.route({
        method: PROXY_METHODS,
        url,
        exposeHeadRoute: false,
        config: { audit: "secret.relay", rateLimit: "read", token: (request) => bearerToken(request.headers.authorization) ?? headerText(request.headers["x-api-key"]) },
        schema: { hide: true },
        handler,
      });
    }
  });
};

/** The raw path after `/relay/{ws}/{route}` and the raw query: forwarded as the caller wrote them. */
function tailOf(url: string): { path: string; query: string | undefined } {
  const question = url.indexOf("?");
  const path = question < 0 ? url : url.slice(0, question);
  // Past "/relay/{ws}/{route}": the fourth "/" on, if there is one.
  let slash = 0;
  for (let i = 0; i < 4 && slash >= 0; i++) slash = path.indexOf("/", slash + (i === 0 ? 0 : 1));
  return { path: slash < 0 ? "" : path.slice(slash), query: question < 0 ? undefined : url.slice(question + 1) };
}

function headerText(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" ? value.trim() : undefined;
}

/** ` agent=… session=… tool=…` from the X-Coffer-* headers, else the token's labels; odd characters are dropped, never the event. */
function attribution(request: FastifyRequest): string {
  const labels = request.principal?.labels ?? {};
  const claimed = claimedAttribution(request);
  let out = "";
  for (const name of ATTRIBUTION_NAMES) {
    const value = claimed[name] ?? labels[name];
    if (value !== undefined) out += ` ${name}=${value}`;
  }
  return out;
}

function decodeBody(body: string, encoding: "utf8" | "base64"): Buffer {
  if (encoding === "utf8") return Buffer.from(body, "utf8");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw invalid("body is not valid base64");
  return Buffer.from(body, "base64");
}
