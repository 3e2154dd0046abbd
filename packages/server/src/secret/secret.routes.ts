import type { SecretScope } from "@coffer/protocol";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { noteTarget } from "../http/audit.ts";
import { errorResponses } from "../http/schemas.ts";
import type { GrantService } from "../access/grant.service.ts";
import type { SecretContext, SecretService, SecretWithData } from "./secret.service.ts";
import { listJson } from "./secret-summaries.ts";
import {
  CreateBody,
  DeleteQuery,
  DeleteVersionsBody,
  ListQuery,
  PatchBody,
  ReadQuery,
  ReplaceBody,
  RollbackBody,
  ScopeQuery,
  Secret,
  SecretList,
  SecretMetadata,
  SecretParams,
  SecretSummary,
  SettingsBody,
  VersionList,
  VersionParams,
  VersionsBody,
} from "./secret.schemas.ts";

export interface SecretRoutesOptions {
  secrets: SecretService;
  grants: GrantService;
}

export const secretRoutes: FastifyPluginAsyncTypebox<SecretRoutesOptions> = async (app, { secrets, grants }) => {
  app.addSchema(SecretSummary);
  app.addSchema(Secret);

  const contextOf = async (request: FastifyRequest, workspace: string, scope: SecretScope | undefined): Promise<SecretContext> => {
    const ctx = await secrets.context(request.principal, workspace, scope, request);
    request.auditTarget.workspaceId = ctx.access.workspace.id;
    return ctx;
  };
  /** Names the secret in the request's audit event by id and name, once the request knows both. */
  const audited = <T extends { id: string; name: string }>(request: FastifyRequest, secret: T): T => {
    request.auditTarget.secretId = secret.id;
    request.auditTarget.secretName = secret.name;
    return secret;
  };

  const tags = ["secrets"];
  const base = "/api/v1/workspaces/:workspace/secrets";
  const WorkspaceOnly = Type.Object({ workspace: Type.String({ description: "Workspace id or name" }) });

  app.get(base, {
    config: { audit: "secret.list", rateLimit: "read" },
    schema: { tags, summary: "List secrets: names, keys, types, labels and ages; never values", params: WorkspaceOnly, querystring: ListQuery, response: { 200: SecretList, ...errorResponses } },
    // The page's JSON from each item's text made once per secret version (secret-summaries.ts); the schema above documents it.
    handler: async (request, reply) => {
      const page = await secrets.list(await contextOf(request, request.params.workspace, request.query.scope), request.query);
      return reply.type("application/json; charset=utf-8").send(listJson(page));
    },
  });

  app.post(base, {
    config: { audit: "secret.create", rateLimit: "write" },
    preSerialization: withoutDataIfMinimal,
    schema: { tags, summary: "Create a secret", params: WorkspaceOnly, body: CreateBody, response: { 201: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request, reply) => {
      const { scope, ...input } = request.body;
      const secret = await secrets.create(await contextOf(request, request.params.workspace, scope), input);
      return reply.code(201).send(audited(request, secret));
    },
  });

  // A sibling of /secrets rather than a child, so no secret name can shadow it.
  app.post("/api/v1/workspaces/:workspace/secret-reads", {
    config: { audit: "secret.read-many", rateLimit: "read" },
    schema: {
      tags,
      summary: "Read several secrets in one request (all or nothing): what `coffer run` and SDK scoped use fetch",
      params: WorkspaceOnly,
      body: Type.Object(
        { names: Type.Array(Type.String(), { minItems: 1, maxItems: 100, description: "Secret ids or names" }), scope: Type.Optional(ScopeQuery.properties.scope) },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ secrets: Type.Array(Type.Ref("Secret")) }), ...errorResponses },
    },
    handler: async (request) => {
      request.auditTarget.secrets = request.body.names.map((name) => (name.startsWith("sec_") ? { id: name, name: "" } : { name }));
      const read = await secrets.getMany(await contextOf(request, request.params.workspace, request.body.scope), request.body.names);
      request.auditTarget.secrets = read.map(({ id, name }) => ({ id, name }));
      return { secrets: read };
    },
  });

  // The read path's answer for a secret version on a given day is one immutable object (see SecretService.get);
  // its JSON, made by this route's response serializer, is kept with it rather than made on every read.
  const serialized = new WeakMap<object, string>();
  // The JSON itself, not `reply.send(json)`: an async handler that returns the reply (a thenable) makes Fastify
  // watch the response stream until it ends, since the audit hook has not let it go yet.
  const answer = (reply: FastifyReply, secret: Readonly<SecretWithData>): string => {
    let json = serialized.get(secret);
    if (json === undefined) {
      json = reply.serialize(secret) as string;
      if (Object.isFrozen(secret)) serialized.set(secret, json);
    }
    reply.type("application/json; charset=utf-8");
    return json;
  };
  app.get(`${base}/:secret`, {
    config: { audit: "secret.read", rateLimit: "read" },
    schema: { tags, summary: "Read a secret (the current version, or ?version=N)", params: SecretParams, querystring: ReadQuery, response: { 200: Type.Ref("Secret"), ...errorResponses } },
    // Synchronous when the caller's context and the secret are in memory (the usual read on a store of its own):
    // the audit hook's wait is then the request's only promise.
    handler: (request, reply) => {
      const { workspace, secret: ref } = request.params;
      const { scope, version } = request.query;
      const ctx = version === undefined ? secrets.cachedContext(request.principal, workspace, scope, request) : undefined;
      if (ctx !== undefined) {
        request.auditTarget.workspaceId = ctx.access.workspace.id;
        const secret = secrets.cachedCurrent(ctx, ref);
        if (secret !== undefined) return answer(reply, audited(request, secret));
      }
      return (async () => {
        const ctx = await contextOf(request, workspace, scope);
        // On a store several nodes share, a cached value is confirmed current in the statement that records its read.
        const cached = version === undefined ? secrets.unconfirmedCurrent(ctx, ref) : undefined;
        if (cached && (await app.recordReadIfCurrent(request, reply, cached.secret, cached.condition))) {
          cached.served();
          return answer(reply, audited(request, cached.secret));
        }
        return answer(reply, audited(request, await secrets.get(ctx, ref, version)));
      })();
    },
  });

  app.put(`${base}/:secret`, {
    config: { audit: "secret.update", auditOnCommit: 200, rateLimit: "write" },
    preSerialization: withoutDataIfMinimal,
    schema: { tags, summary: "Replace every key/value pair (a new version); creates the secret if the name is new", params: SecretParams, querystring: ScopeQuery, body: ReplaceBody, response: { 200: Type.Ref("Secret"), 201: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request, reply) => {
      const { data, ...input } = request.body;
      const ctx = await contextOf(request, request.params.workspace, request.query.scope);
      const { secret, created } = await secrets.replace(ctx, request.params.secret, data, { ...input, upsert: true });
      // A write that made the secret is its creation, in the log and the alerts, as POST's is (`coffer secrets set` creates so).
      if (created) request.auditTarget.action = "secret.create";
      return reply.code(created ? 201 : 200).send(audited(request, secret));
    },
  });

  app.patch(`${base}/:secret`, {
    config: { audit: "secret.update", auditOnCommit: 200, rateLimit: "write" },
    preSerialization: withoutDataIfMinimal,
    schema: { tags, summary: "Set or remove some keys (a new version), or change label and tags", params: SecretParams, querystring: ScopeQuery, body: PatchBody, response: { 200: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request) => {
      const { data, ...input } = request.body;
      return audited(request, await secrets.patch(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret, data, input));
    },
  });

  app.delete(`${base}/:secret`, {
    config: { audit: "secret.delete", rateLimit: "write" },
    schema: { tags, summary: "Soft-delete a secret (restorable), or destroy it for good with ?permanent=true", params: SecretParams, querystring: DeleteQuery, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      const ctx = await contextOf(request, request.params.workspace, request.query.scope);
      if (request.query.permanent) await secrets.destroy(ctx, request.params.secret);
      else await secrets.softDelete(ctx, request.params.secret);
      return reply.code(204).send(null);
    },
  });

  app.post(`${base}/:secret/restore`, {
    config: { audit: "secret.restore", rateLimit: "write" },
    schema: { tags, summary: "Restore a soft-deleted secret", params: SecretParams, querystring: ScopeQuery, response: { 200: Type.Ref("SecretSummary"), ...errorResponses } },
    handler: async (request) =>
      audited(request, await secrets.restore(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret)),
  });

  app.get(`${base}/:secret/versions`, {
    config: { audit: "secret.versions", rateLimit: "read" },
    schema: { tags, summary: "List a secret's versions (metadata only)", params: SecretParams, querystring: ScopeQuery, response: { 200: VersionList, ...errorResponses } },
    handler: async (request) => ({
      versions: await secrets.versions(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret),
    }),
  });

  app.get(`${base}/:secret/versions/:version`, {
    config: { audit: "secret.read", rateLimit: "read" },
    schema: { tags, summary: "Read one version of a secret", params: VersionParams, querystring: ScopeQuery, response: { 200: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request) =>
      audited(request, await secrets.get(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret, request.params.version)),
  });

  app.post(`${base}/:secret/rollback`, {
    config: { audit: "secret.rollback", auditOnCommit: 200, rateLimit: "write" },
    preSerialization: withoutDataIfMinimal,
    schema: { tags, summary: "Roll back: write a new version equal to an old one", params: SecretParams, querystring: ScopeQuery, body: RollbackBody, response: { 200: Type.Ref("Secret"), ...errorResponses } },
    handler: async (request) =>
      audited(
        request,
        await secrets.rollback(await contextOf(request, request.params.workspace, request.query.scope), request.params.secret, request.body.version, request.body.cas),
      ),
  });

  // Per-version lifecycle and per-secret settings (what Vault's KV v2 clients rely on).
  const noteSecret = (request: FastifyRequest, ctx: SecretContext, secret: { id: string; name: string }) =>
    noteTarget(request, { workspaceId: ctx.access.workspace.id, secretId: secret.id, secretName: secret.name });

  app.get(`${base}/:secret/metadata`, {
    config: { audit: "secret.read-metadata", rateLimit: "read" },
    schema: { tags, summary: "Everything about a secret but its value: summary, your level on it, settings, every kept version's state (what the web UI reads)", params: SecretParams, querystring: ScopeQuery, response: { 200: SecretMetadata, ...errorResponses } },
    handler: async (request) => {
      const ctx = await contextOf(request, request.params.workspace, request.query.scope);
      const metadata = await secrets.metadata(ctx, request.params.secret);
      noteSecret(request, ctx, metadata);
      return metadata;
    },
  });

  app.patch(`${base}/:secret/metadata`, {
    config: { audit: "secret.metadata-update", rateLimit: "write" },
    schema: {
      tags,
      summary: "Change a secret's settings: casRequired, maxVersions, deleteVersionAfter, customMetadata (replaced as a whole), relayPolicy (needs manage)",
      params: SecretParams,
      querystring: ScopeQuery,
      body: SettingsBody,
      response: { 200: SecretMetadata, ...errorResponses },
    },
    handler: async (request) => {
      const ctx = await contextOf(request, request.params.workspace, request.query.scope);
      // Where a value may be sent is audited, and alerts, as a change to the secret.
      if (request.body.relayPolicy !== undefined) request.auditTarget.action = "secret.relay-policy";
      else if (request.body.approval !== undefined) request.auditTarget.action = "secret.approval-setting";
      const metadata = await secrets.updateSettings(ctx, request.params.secret, request.body);
      noteSecret(request, ctx, metadata);
      return metadata;
    },
  });

  const versionOperations = [
    ["delete", "secret.version-delete", "Soft-delete versions (default: the current one); undelete brings them back", DeleteVersionsBody,
      (ctx: SecretContext, ref: string, versions: number[] | undefined) => secrets.deleteVersions(ctx, ref, versions)],
    ["undelete", "secret.version-undelete", "Undelete soft-deleted versions", VersionsBody,
      (ctx: SecretContext, ref: string, versions: number[] | undefined) => secrets.undeleteVersions(ctx, ref, versions ?? [])],
    ["destroy", "secret.version-destroy", "Destroy versions: their values are wiped for good, their metadata stays", VersionsBody,
      (ctx: SecretContext, ref: string, versions: number[] | undefined) => secrets.destroyVersions(ctx, ref, versions ?? [])],
  ] as const;
  for (const [verb, audit, summary, body, operation] of versionOperations) {
    app.post(`${base}/:secret/versions/${verb}`, {
      config: { audit, rateLimit: "write" },
      schema: { tags, summary, params: SecretParams, querystring: ScopeQuery, body, response: { 200: VersionList, ...errorResponses } },
      handler: async (request) => {
        const ctx = await contextOf(request, request.params.workspace, request.query.scope);
        const versions = await operation(ctx, request.params.secret, (request.body as { versions?: number[] }).versions);
        noteTarget(request, { workspaceId: ctx.access.workspace.id, secretName: request.params.secret });
        return { versions };
      },
    });
  }

  const Grant = Type.Object({
    subject: Type.String({ description: "user:NAME, group:NAME or sa:NAME" }),
    subjectId: Type.String(),
    level: Type.String({ description: "see, use, read, write or manage" }),
    createdAt: Type.String({ format: "date-time" }),
  });
  const grantView = (grant: { subject: string; subjectId: string; level: string; createdAt: number }) => ({ ...grant, createdAt: new Date(grant.createdAt).toISOString() });
  const GrantParams = Type.Object({ workspace: Type.String(), secret: Type.String(), subject: Type.String({ description: "user:NAME, group:NAME, sa:NAME or an id" }) });
  const sharing = ["sharing"];

  app.get(`${base}/:secret/grants`, {
    config: { audit: "grant.list", rateLimit: "read" },
    schema: { tags: sharing, summary: "Who a shared secret is shared with (callers who may manage it)", params: SecretParams, response: { 200: Type.Object({ grants: Type.Array(Grant) }), ...errorResponses } },
    handler: async (request) => ({ grants: (await grants.list(await contextOf(request, request.params.workspace, "shared"), request.params.secret)).map(grantView) }),
  });

  app.put(`${base}/:secret/grants/:subject`, {
    config: { audit: "grant.set", rateLimit: "write" },
    schema: {
      tags: sharing,
      summary: "Share a secret with a user, group or service account at one level",
      params: GrantParams,
      body: Type.Object({ level: Type.String({ description: "see, use, read, write or manage" }) }, { additionalProperties: false }),
      response: { 200: Grant, ...errorResponses },
    },
    handler: async (request) =>
      grantView(await grants.set(await contextOf(request, request.params.workspace, "shared"), request.params.secret, request.params.subject, request.body.level)),
  });

  app.delete(`${base}/:secret/grants/:subject`, {
    config: { audit: "grant.delete", rateLimit: "write" },
    schema: { tags: sharing, summary: "Stop sharing a secret with a subject", params: GrantParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await grants.remove(await contextOf(request, request.params.workspace, "shared"), request.params.secret, request.params.subject);
      return reply.code(204).send(null);
    },
  });
};

/**
 * Writes answer the secret with its data, as the SDK and CLI expect; a client
 * that must never receive a value (the web UI) sends `Prefer: return=minimal`
 * (RFC 7240) and gets the metadata alone.
 */
function withoutDataIfMinimal(request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void): void {
  const prefer = request.headers.prefer;
  if (typeof prefer === "string" && /(^|[\s,;])return=minimal\b/i.test(prefer) && payload && typeof payload === "object" && "data" in payload) {
    const { data: _, ...metadata } = payload as Record<string, unknown>;
    return done(null, metadata);
  }
  done(null, payload);
}
