/**
 * The relay's HTTP surface: `POST …/relay` (one described request), the
 * base-URL routes' CRUD and the proxy `/relay/{ws}/{route}/…`. A relayed
 * call is audited as `secret.relay`, one event per secret it used, written
 * when the call is over (a streamed answer's bytes are known only then).
 */
import { isUtf8 } from "node:buffer";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { AuditLog } from "../audit/audit.service.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { eventOf, markRecorded } from "../http/audit.ts";
import { ATTRIBUTION_NAMES, claimedAttribution } from "../http/origin.ts";
import { errorResponses } from "../http/schemas.ts";
import type { SecretService } from "../secret/secret.service.ts";
import { MAX_REQUEST_BODY, type RelayAnswer, type RelayRecord, type RelayService } from "./relay.service.ts";

export interface RelayRoutesOptions {
  relay: RelayService;
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

export const relayRoutes: FastifyPluginAsyncTypebox<RelayRoutesOptions> = async (app, { relay, secrets, audit, clock }) => {
  const tags = ["relay"];

  /** Records one `secret.relay` event per secret used (one without a secret when the call failed before naming any). */
  const recordCall = async (request: FastifyRequest, record: RelayRecord, status: number, startedAt: number, via: string, workspaceId: string | undefined) => {
    if (audit === null) return;
    const event = eventOf(request, "secret.relay", status, clock(), workspaceId ?? null);
    event.subject = [
      via,
      `host=${record.host || "-"}`,
      `method=${record.method || "-"}`,
      `upstream=${record.status || "-"}`,
      `sent=${record.bytesSent}`,
      `received=${record.bytesReceived}`,
      `ms=${Math.max(0, clock() - startedAt)}`,
      ...attribution(request),
    ].join(" ");
    const secretsUsed = record.secrets.length === 0 ? [undefined] : record.secrets;
    await Promise.all(secretsUsed.map((secret) => audit.record({ ...event, secretId: secret?.id ?? null, secretName: secret?.name ?? null })));
  };

  /** Runs one relayed call and answers it, JSON or streamed; every outcome, refusals included, is audited. */
  const answer = async (request: FastifyRequest, reply: FastifyReply, via: string, workspace: string, stream: boolean, call: (record: RelayRecord) => Promise<RelayAnswer>) => {
    const startedAt = clock();
    // This handler records the call's events itself; what fails before it runs (authentication, validation) the audit hook records.
    markRecorded(request);
    reply.header("x-request-id", request.id);
    const record: RelayRecord = { secrets: [], host: "", method: request.method, status: 0, bytesSent: 0, bytesReceived: 0 };
    let workspaceId: string | undefined;
    let relayed: RelayAnswer;
    try {
      workspaceId = (await secrets.context(request.principal, workspace)).access.workspace.id;
      relayed = await call(record);
    } catch (error) {
      const status = error instanceof CofferError ? error.status : 500;
      await recordCall(request, record, status, startedAt, via, workspaceId).catch(() => {});
      throw error;
    }
    if (!stream) {
      let body: Buffer;
      try {
        body = Buffer.concat(await relayed.body.toArray());
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
    relayed.body.on("error", (error) => request.log.warn(`relay stream ended early: ${error instanceof CofferError ? error.code : "error"}`));
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
      return answer(request, reply, "via=api", request.params.workspace, input.stream === true, async (record) => {
        const ctx = await secrets.context(request.principal, request.params.workspace, input.scope);
        return relay.relay(ctx, { method: input.method, url: input.url, headers: input.headers, body, timeout: input.timeout }, record);
      });
    },
  });
};

/** `agent=… session=… tool=…` from the X-Coffer-* headers, else the token's labels; odd characters are dropped, never the event. */
function attribution(request: FastifyRequest): string[] {
  const labels = request.principal?.labels ?? {};
  const claimed = claimedAttribution(request);
  const out: string[] = [];
  for (const name of ATTRIBUTION_NAMES) {
    const value = claimed[name] ?? labels[name];
    if (value !== undefined) out.push(`${name}=${value}`);
  }
  return out;
}

function decodeBody(body: string, encoding: "utf8" | "base64"): Buffer {
  if (encoding === "utf8") return Buffer.from(body, "utf8");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw invalid("body is not valid base64");
  return Buffer.from(body, "base64");
}
