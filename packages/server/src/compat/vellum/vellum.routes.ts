/**
 * Vellum's workspace secrets API under /vellum/v1: read and update a secret
 * by id or name with an `X-API-KEY` (a Coffer token scoped to one
 * workspace). Answers are `{id, modified, name, label, secret_type}`; a
 * value never leaves. Errors are Vellum's (Django REST framework's
 * `{"detail": …}` with a `code`), scoped to this plugin.
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { RateLimits } from "../../limits/rate-limits.ts";
import type { FastifyError, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { CofferError } from "../../core/errors.ts";
import { noteTarget } from "../../http/audit.ts";
import { cofferErrorOf, sendError, type ErrorShape } from "../../http/errors.ts";
import { denied } from "../../identity/access.ts";
import { DEFAULT_KEY } from "../../secret/secret.rules.ts";
import { missingLooksDenied } from "../../secret/hidden-secret.ts";
import type { SecretRow } from "../../secret/secret.repository.ts";
import type { SecretContext, SecretService } from "../../secret/secret.service.ts";

export const VELLUM_PREFIX = "/vellum/v1";

const Params = Type.Object({ id: Type.String({ description: "The secret's id or its name" }) });

function apiKey(request: FastifyRequest): string | undefined {
  const header = request.headers["x-api-key"];
  return typeof header === "string" && header !== "" ? header : undefined;
}

export const vellumRoutes: FastifyPluginAsyncTypebox<{ secrets: SecretService; limits: RateLimits }> = async (app, { secrets, limits }) => {
  app.addHook("onRoute", (route) => {
    route.config = { ...route.config, token: apiKey };
  });
  // Vellum's bodies carry no request id: the header is how an answer is found in the audit log.
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(reply, request, cofferErrorOf(error, request), vellumErrorShape));
  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).type("application/json").send({ detail: "Not found.", code: "NOT_FOUND" });
  });

  // The web UI answers every other GET path with its page; under this prefix an unknown path is this API's 404.
  app.get("/*", { config: { public: true }, schema: { hide: true } }, (_request, reply) => reply.callNotFound());

  /** The one workspace the key is for: a workspace-bound token's, or a service account's own. */
  const contextOf = async (request: FastifyRequest): Promise<SecretContext> => {
    const { principal } = request;
    const workspace = principal.scope.scope.workspaceId ?? principal.homeWorkspaceId;
    if (workspace === null) throw denied("an X-API-KEY is a token scoped to one workspace (create one with \"workspace\" set)");
    const ctx = await secrets.context(principal, workspace, undefined, request);
    const ref = (request.params as { id: string }).id;
    noteTarget(request, { workspaceId: ctx.access.workspace.id, ...(ref.startsWith("sec_") ? { secretId: ref } : { secretName: ref }) });
    // Vellum's own defaults are these: retrieval 20/s, updates 5/s per key.
    await limits.take(request.method === "GET" ? "read" : "write", principal, ctx.access.workspace);
    return ctx;
  };
  const authorize = (ctx: SecretContext, ref: string, level: "see" | "write") =>
    secrets.authorize(ctx, ref, level).catch(missingLooksDenied(secrets, ctx, ref, `you may not use secret '${ref}'`));
  const view = (row: SecretRow) => ({ id: row.id, modified: new Date(row.updatedAt).toISOString(), name: row.name, label: row.label, secret_type: row.type });

  app.get("/workspace-secrets/:id", {
    // Vellum's read answers metadata only, never the value: audited as the native metadata read.
    config: { audit: "secret.read-metadata" },
    schema: { hide: true, params: Params },
    handler: async (request) => {
      const ctx = await contextOf(request);
      const row = await authorize(ctx, request.params.id, "see");
      noteTarget(request, { workspaceId: row.workspaceId, secretId: row.id, secretName: row.name });
      return view(row);
    },
  });

  app.patch("/workspace-secrets/:id", {
    config: { audit: "secret.update", auditOnCommit: 200 },
    schema: {
      hide: true,
      params: Params,
      body: Type.Object({ label: Type.Optional(Type.String()), value: Type.Optional(Type.String()) }, { additionalProperties: false }),
    },
    handler: async (request) => {
      const ctx = await contextOf(request);
      const { label, value } = request.body ?? {};
      const row = await authorize(ctx, request.params.id, "write");
      noteTarget(request, { workspaceId: row.workspaceId, secretId: row.id, secretName: row.name });
      // A Vellum secret is one value: it maps to the key `value`, and only a secret holding just that key takes it.
      // The check runs inside the write, on the version it replaces, so a concurrent write of other keys is not mixed in.
      const onlyKeys = value === undefined ? undefined : [DEFAULT_KEY];
      await secrets.patch(ctx, row.id, value === undefined ? undefined : { [DEFAULT_KEY]: value }, { label, onlyKeys });
      return view(await secrets.authorize(ctx, row.id, "see"));
    },
  });
};

/** Vellum's error body: `{"detail", "code"}`. */
export const vellumErrorShape: ErrorShape = (error) => {
  const { status, code } = vellumError(error);
  return { status, body: { detail: error.message, code } };
};

function vellumError(error: CofferError): { status: number; code: string } {
  switch (error.code) {
    case "UNAUTHENTICATED":
    case "ACCESS_DENIED":
      return { status: 403, code: "ACCESS_DENIED" };
    case "SECRET_NOT_FOUND":
    case "WORKSPACE_NOT_FOUND":
    case "VERSION_NOT_FOUND":
      return { status: 404, code: "SECRET_NOT_FOUND" };
    default:
      return { status: error.status, code: error.code };
  }
}
