/**
 * Vault's KV version 2 engine, one per workspace, at /v1/<workspace>/…:
 * data, delete, undelete, destroy, metadata, list, config and subkeys. Each
 * route translates to one SecretService or WorkspaceService call, so access,
 * versions and the cache are the native API's own.
 */
import type { SecretMetadata } from "@coffer/protocol";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { RateLimits } from "../../limits/rate-limits.ts";
import type { FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { CofferError, invalid } from "../../core/errors.ts";
import { denied } from "../../identity/access.ts";
import { allows, type Acl } from "../../identity/acl-policy.ts";
import type { Principal } from "../../identity/principal.ts";
import { noteTarget } from "../../http/audit.ts";
import { missingLooksDenied } from "../../secret/hidden-secret.ts";
import type { SecretContext, SecretRead, SecretService } from "../../secret/secret.service.ts";
import { CasRequired } from "../../secret/secret-writer.ts";
import type { SecretValue, SecretValues } from "../../secret/secret.rules.ts";
import { DEFAULT_MAX_VERSIONS, type WorkspaceService } from "../../workspace/workspace.service.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { customMetadataOf, envelope, envelopeJson, vaultTime, workspaceOfMount } from "./vault.wire.ts";

export interface KvRoutesOptions {
  limits: RateLimits;
  secrets: SecretService;
  workspaces: WorkspaceService;
}

const MountPath = Type.Object({ mount: Type.String(), "*": Type.String() });
const MountOnly = Type.Object({ mount: Type.String() });
// Any integer, or its decimal text (Vault decodes it weakly): Vault compares it with the current version, so a
// negative one is a mismatch, not a schema error.
const Cas = Type.Optional(Type.Object({ cas: Type.Optional(Type.Union([Type.Integer(), Type.String({ pattern: "^-?[0-9]{1,15}$" })])) }));
// Values are any JSON values, kept with their type (secret.rules.ts); a null in a patch removes the key.
// `data` is checked by the handler, so its absence gets Vault's own message.
const WriteBody = Type.Object({ data: Type.Optional(Type.Record(Type.String(), Type.Unknown())), options: Cas });
// Vault's versions are a list of integers, or of their decimal text, or one comma-separated string ("1,2").
const Versions = Type.Object({ versions: Type.Optional(Type.Union([Type.Array(Type.Union([Type.Integer(), Type.String()])), Type.String(), Type.Integer()])) });
const MetadataBody = Type.Object({
  max_versions: Type.Optional(Type.Integer({ minimum: 0 })),
  cas_required: Type.Optional(Type.Boolean()),
  delete_version_after: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 0 })])),
  // Vault keeps custom metadata as text and takes numbers and booleans as their text; a null in a PATCH removes the key.
  custom_metadata: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]))),
});
const ConfigBody = Type.Object({
  max_versions: Type.Optional(Type.Integer({ minimum: 0 })),
  cas_required: Type.Optional(Type.Boolean()),
  delete_version_after: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 0 })])),
});
const hide = true;

export const kvRoutes: FastifyPluginAsyncTypebox<KvRoutesOptions> = async (app, { secrets, workspaces, limits }) => {
  // Charged like the native routes: reads (GET, LIST) against the read budget, everything else the write budget.
  const contextOf = async (request: FastifyRequest, mount: string): Promise<SecretContext> => {
    const ctx = await secrets.context(callerOf(request.principal), workspaceOfMount(request.principal, mount), undefined, request);
    // Known before the service call, so a refused request is audited (and alerted) in its workspace too.
    noteTarget(request, { workspaceId: ctx.access.workspace.id });
    await limits.take(request.method === "GET" ? "read" : "write", request.principal, ctx.access.workspace);
    return ctx;
  };
  // Vault answers 403 for a path no policy of the token covers, existing or not.
  const covered = (ctx: SecretContext, path: string) => missingLooksDenied(secrets, ctx, path);
  // Vault's deletes are idempotent: deleting what is not there (or no longer there) is done, 204.
  const absentIsDone = (ctx: SecretContext, path: string) => (error: unknown): void => {
    if (error instanceof CofferError && error.code === "SECRET_NOT_FOUND" && secrets.seesEveryName(ctx, path)) return;
    covered(ctx, path)(error);
  };
  // A cas that cannot match (negative, or a version of a secret that does not exist) fails as Vault's does.
  const casMismatch = (ctx: SecretContext, path: string, cas: number | undefined) => (error: unknown): never => {
    casRequiredAsVault(error);
    if (cas && error instanceof CofferError && error.code === "SECRET_NOT_FOUND" && secrets.seesEveryName(ctx, path)) throw casFailure();
    return covered(ctx, path)(error);
  };
  // Vault answers a deleted or destroyed version with 404 and that version's metadata, its data null (`vault kv get` prints it).
  const goneVersion = async (ctx: SecretContext, path: string, wanted: number | undefined, error: unknown) => {
    if (!(error instanceof CofferError) || (error.code !== "VERSION_NOT_FOUND" && error.code !== "SECRET_NOT_FOUND")) return null;
    const metadata = await secrets.metadata(ctx, path).catch(() => null);
    const version = metadata?.versions.find((v) => v.version === (wanted || metadata.currentVersion));
    if (!metadata || !version) return null;
    const deleted = version.deletedAt !== null && Date.parse(version.deletedAt) <= Date.now();
    if (!deleted && !version.destroyed) return null;
    return {
      data: null,
      metadata: { created_time: version.createdAt, custom_metadata: customMetadataOf(metadata.customMetadata), deletion_time: vaultTime(version.deletedAt), destroyed: version.destroyed, version: version.version },
    };
  };
  const note = (request: FastifyRequest, ctx: SecretContext, secret: { id?: string; name: string }) =>
    noteTarget(request, { workspaceId: ctx.access.workspace.id, secretName: secret.name, ...(secret.id ? { secretId: secret.id } : {}) });

  // A token with Vault policies: each request needs its capability on its path, as Vault checks it (acl-policy.ts),
  // on top of everything the native checks ask. Tokens without policies skip this at one property read, and with a
  // callback hook no promise either.
  app.addHook("preHandler", (request, _reply, done) => {
    const acl = request.principal?.scope.scope.acl;
    if (!acl) return done();
    checkPolicies(request, acl).then(() => done(), done);
  });
  const checkPolicies = async (request: FastifyRequest, acl: Acl): Promise<void> => {
    const [, , , kind = ""] = (request.routeOptions.url ?? "").split("/");
    const rest = (request.params as { "*"?: string })["*"] ?? "";
    if (kind === "list") {
      if (!allows(acl, `secret/metadata/${rest === "" || rest.endsWith("/") ? rest : `${rest}/`}`, "list")) throw denied();
      return;
    }
    const path = kind === "config" ? "secret/config" : `secret/${kind}/${rest}`;
    const method = request.method;
    if (method === "POST" || method === "PUT") {
      if (kind !== "data" && kind !== "metadata") {
        if (!allows(acl, path, "update")) throw denied();
        return;
      }
      // Vault asks create of a path that does not exist yet and update of one that does.
      const create = allows(acl, path, "create");
      const update = allows(acl, path, "update");
      if (create === update) {
        if (!create) throw denied();
        return;
      }
      const ctx = await secrets.context(callerOf(request.principal), workspaceOfMount(request.principal, (request.params as { mount: string }).mount), undefined, request);
      const exists = await secrets.metadata(ctx, rest).then(() => true, () => false);
      if (exists ? !update : !create) throw denied();
      return;
    }
    const capability = method === "PATCH" ? "patch" : method === "DELETE" ? "delete" : "read";
    if (!allows(acl, path, capability)) throw denied();
  };

  // A version's `data` part, serialized once per version and day (as the native read keeps its JSON).
  const readJson = new WeakMap<object, string>();
  const dataJson = (read: SecretRead): string => {
    let json = readJson.get(read.secret);
    if (json === undefined) {
      json = JSON.stringify({ data: read.secret.values ?? read.secret.data, metadata: versionMetadata(read) });
      if (Object.isFrozen(read.secret)) readJson.set(read.secret, json);
    }
    return json;
  };

  /** The answer to a read of the data: the JSON itself, not the reply (see the native read, secret.routes.ts). */
  const answerRead = (request: FastifyRequest, reply: FastifyReply, read: SecretRead): string => {
    const target = request.auditTarget;
    target.secretId = read.secret.id;
    target.secretName = read.secret.name;
    reply.type("application/json; charset=utf-8");
    return envelopeJson(request.id, dataJson(read));
  };
  /** The read the usual way: the caller's context from the store if need be, refusals and gone versions answered as Vault does. */
  const readData = async (request: FastifyRequest, reply: FastifyReply, mount: string, path: string, version: number | undefined, charged?: SecretContext) => {
    const ctx = charged ?? (await contextOf(request, mount));
    // On a store several nodes share, a cached value is confirmed current in the statement that records its read
    // (as the native read does): one round trip, not a freshness check and then the audit's.
    const cached = version === undefined ? secrets.unconfirmedCurrent(ctx, path) : undefined;
    if (cached && (await app.recordReadIfCurrent(request, reply, cached.secret, cached.condition))) {
      cached.served();
      return answerRead(request, reply, cached);
    }
    let read: SecretRead;
    try {
      read = await secrets.read(ctx, path, version);
    } catch (error) {
      const gone = await goneVersion(ctx, path, version, error);
      if (gone) return reply.code(404).send(envelope(request.id, gone));
      return covered(ctx, path)(error);
    }
    return answerRead(request, reply, read);
  };

  app.get("/:mount/data/*", {
    config: { audit: "secret.read" },
    schema: { hide, params: MountPath, querystring: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 0 })) }) },
    // The hot path of the adapter, as the native read's: synchronous when the caller's context, its rate budget and
    // the secret are in memory (the audit hook's wait is then the request's only promise), the data part's JSON kept
    // per version.
    handler: (request, reply) => {
      const { mount, "*": path } = request.params;
      const version = request.query.version || undefined;
      const principal = request.principal;
      const ctx = version === undefined ? secrets.cachedContext(callerOf(principal), workspaceOfMount(principal, mount), undefined, request) : undefined;
      if (ctx === undefined) return readData(request, reply, mount, path, version);
      // As contextOf: the workspace is known before the budget is charged, so a refused request is audited in it.
      request.auditTarget.workspaceId = ctx.access.workspace.id;
      const taken = limits.take("read", principal, ctx.access.workspace);
      if (taken !== undefined) return taken.then(() => readData(request, reply, mount, path, version, ctx));
      const read = secrets.cachedRead(ctx, path);
      return read === undefined ? readData(request, reply, mount, path, version, ctx) : answerRead(request, reply, read);
    },
  });

  for (const method of ["POST", "PUT"] as const) {
    app.route({
      method,
      url: "/:mount/data/*",
      config: { audit: "secret.update", auditOnCommit: 200 },
      schema: { hide, params: MountPath, body: WriteBody },
      handler: async (request) => {
        const ctx = await contextOf(request, request.params.mount);
        const data = dataOf(request.body);
        const cas = casOf(request.body.options);
        if (cas !== undefined && cas < 0) throw casFailure();
        // cas 0: only if the secret does not exist yet, which create-on-write answers; a higher cas never creates.
        const { secret, created } = await secrets.replace(ctx, request.params["*"], data as SecretValues, { cas, upsert: !cas }).catch(casMismatch(ctx, request.params["*"], cas));
        note(request, ctx, secret);
        // Vault's own log calls a write to a new path a create too.
        if (created) request.auditTarget.action = "secret.create";
        return envelope(request.id, writeResult(await secrets.metadata(ctx, secret.id), secret.version));
      },
    });
  }

  app.patch("/:mount/data/*", {
    config: { audit: "secret.update", auditOnCommit: 200 },
    schema: { hide, params: MountPath, body: WriteBody },
    handler: async (request) => {
      const ctx = await contextOf(request, request.params.mount);
      const data = dataOf(request.body);
      if (Object.keys(data).length === 0) throw invalid("no data provided");
      const cas = casOf(request.body.options);
      if (cas !== undefined && cas < 0) throw casFailure();
      const secret = await secrets.patch(ctx, request.params["*"], data as Record<string, SecretValue>, { cas }).catch((error: unknown) => {
        casRequiredAsVault(error);
        // A patch of a path that does not exist is Vault's 404, whatever the cas.
        return covered(ctx, request.params["*"])(error);
      });
      note(request, ctx, secret);
      return envelope(request.id, writeResult(await secrets.metadata(ctx, secret.id), secret.version));
    },
  });

  app.delete("/:mount/data/*", {
    config: { audit: "secret.version-delete" },
    schema: { hide, params: MountPath },
    handler: async (request, reply) => {
      const ctx = await contextOf(request, request.params.mount);
      await secrets.deleteVersions(ctx, request.params["*"]).catch(absentIsDone(ctx, request.params["*"]));
      note(request, ctx, { name: request.params["*"] });
      return reply.code(204).send();
    },
  });

  const versionRoutes = [
    ["delete", "secret.version-delete", (ctx: SecretContext, path: string, versions: number[]) => secrets.deleteVersions(ctx, path, versions)],
    ["undelete", "secret.version-undelete", (ctx: SecretContext, path: string, versions: number[]) => secrets.undeleteVersions(ctx, path, versions)],
    ["destroy", "secret.version-destroy", (ctx: SecretContext, path: string, versions: number[]) => secrets.destroyVersions(ctx, path, versions)],
  ] as const;
  for (const [verb, audit, operation] of versionRoutes) {
    for (const method of ["POST", "PUT"] as const) {
      app.route({
        method,
        url: `/:mount/${verb}/*`,
        config: { audit },
        schema: { hide, params: MountPath, body: Versions },
        handler: async (request, reply) => {
          const ctx = await contextOf(request, request.params.mount);
          await operation(ctx, request.params["*"], versionsOf(request.body.versions)).catch(absentIsDone(ctx, request.params["*"]));
          note(request, ctx, { name: request.params["*"] });
          return reply.code(204).send();
        },
      });
    }
  }

  app.get("/:mount/metadata/*", {
    config: { audit: "secret.read-metadata" },
    schema: { hide, params: MountPath },
    handler: async (request) => {
      const ctx = await contextOf(request, request.params.mount);
      const metadata = await secrets.metadata(ctx, request.params["*"]).catch(covered(ctx, request.params["*"]));
      note(request, ctx, metadata);
      return envelope(request.id, vaultMetadata(metadata));
    },
  });

  for (const method of ["POST", "PUT", "PATCH"] as const) {
    app.route({
      method,
      url: "/:mount/metadata/*",
      config: { audit: "secret.metadata-update" },
      schema: { hide, params: MountPath, body: MetadataBody },
      handler: async (request, reply) => {
        const ctx = await contextOf(request, request.params.mount);
        const path = request.params["*"];
        const body = request.body;
        // Vault answers a write that sets nothing as done, without looking the path up.
        if (body.max_versions === undefined && body.cas_required === undefined && body.delete_version_after === undefined && body.custom_metadata === undefined) {
          return reply.code(204).send();
        }
        let customMetadata: Record<string, string> | undefined;
        if (body.custom_metadata !== undefined) {
          // POST replaces the custom metadata; PATCH merges into it, a null removing a key.
          const base = method === "PATCH" ? (await secrets.metadata(ctx, path).catch(covered(ctx, path))).customMetadata : {};
          customMetadata = { ...base };
          for (const [key, value] of Object.entries(body.custom_metadata)) {
            if (value === null) delete customMetadata[key];
            else customMetadata[key] = String(value);
          }
        }
        const metadata = await secrets
          .updateSettings(ctx, path, {
          casRequired: body.cas_required,
          maxVersions: body.max_versions === undefined ? undefined : body.max_versions === 0 ? null : body.max_versions,
          deleteVersionAfter: body.delete_version_after === undefined ? undefined : parseDuration(body.delete_version_after, "delete_version_after"),
            customMetadata,
          })
          .catch(covered(ctx, path));
        note(request, ctx, metadata);
        // The workspace's setting wins over the secret's, as Vault's engine config does; Vault says so in a warning.
        if (body.cas_required === false && ctx.access.workspace.casRequired === 1) {
          return envelope(request.id, null, { warnings: ['"cas_required" set to false, but is mandated by backend config. This value will be ignored.'] });
        }
        return reply.code(204).send();
      },
    });
  }

  app.delete("/:mount/metadata/*", {
    config: { audit: "secret.purge" },
    schema: { hide, params: MountPath },
    handler: async (request, reply) => {
      const ctx = await contextOf(request, request.params.mount);
      await secrets.destroy(ctx, request.params["*"]).catch(absentIsDone(ctx, request.params["*"]));
      note(request, ctx, { name: request.params["*"] });
      return reply.code(204).send();
    },
  });

  // LIST …/metadata/<folder> and GET …?list=true arrive here (see vaultListUrl): the names one level below the folder.
  const list = async (request: FastifyRequest, mount: string, folder: string) => {
    const ctx = await contextOf(request, mount);
    const prefix = folder === "" ? "" : folder.endsWith("/") ? folder : `${folder}/`;
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await secrets.list(ctx, { prefix, recursive: false, limit: 1000, cursor });
      for (const item of page.items) keys.push(item.name.slice(prefix.length));
      for (const sub of page.folders) keys.push(sub.slice(prefix.length));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    noteTarget(request, { workspaceId: ctx.access.workspace.id });
    return keys.sort();
  };
  app.get("/:mount/list/*", {
    config: { audit: "secret.list" },
    schema: { hide, params: MountPath },
    handler: async (request, reply) => {
      const keys = await list(request, request.params.mount, request.params["*"]);
      return keys.length === 0 ? reply.code(404).send({ errors: [] }) : envelope(request.id, { keys });
    },
  });
  app.get("/:mount/list", {
    config: { audit: "secret.list" },
    schema: { hide, params: MountOnly },
    handler: async (request, reply) => {
      const keys = await list(request, request.params.mount, "");
      return keys.length === 0 ? reply.code(404).send({ errors: [] }) : envelope(request.id, { keys });
    },
  });

  app.get("/:mount/subkeys/*", {
    config: { audit: "secret.read" },
    schema: { hide, params: MountPath, querystring: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 0 })), depth: Type.Optional(Type.Integer({ minimum: 0 })) }) },
    handler: async (request) => {
      const ctx = await contextOf(request, request.params.mount);
      const read = await secrets.read(ctx, request.params["*"], request.query.version || undefined).catch(covered(ctx, request.params["*"]));
      note(request, ctx, read.secret);
      return envelope(request.id, { subkeys: subkeysOf(read.secret.values ?? read.secret.data, request.query.depth ?? 0), metadata: versionMetadata(read) });
    },
  });

  app.get("/:mount/config", {
    config: { audit: "workspace.read" },
    schema: { hide, params: MountOnly },
    handler: async (request) => {
      const { workspace } = await workspaces.access(request.principal, workspaceOfMount(request.principal, request.params.mount));
      noteTarget(request, { workspaceId: workspace.id });
      return envelope(request.id, {
        max_versions: workspace.maxVersions,
        cas_required: workspace.casRequired === 1,
        delete_version_after: formatDuration(Number(workspace.deleteVersionAfter)),
      });
    },
  });

  for (const method of ["POST", "PUT"] as const) {
    app.route({
      method,
      url: "/:mount/config",
      config: { audit: "workspace.update" },
      schema: { hide, params: MountOnly, body: ConfigBody },
      handler: async (request, reply) => {
        const body = request.body;
        const updated = await workspaces.updateSettings(request.principal, workspaceOfMount(request.principal, request.params.mount), {
          // 0 is Vault's "the default" (10 versions), not "leave as it is".
          maxVersions: body.max_versions === 0 ? DEFAULT_MAX_VERSIONS : body.max_versions,
          casRequired: body.cas_required,
          deleteVersionAfter: body.delete_version_after === undefined ? undefined : parseDuration(body.delete_version_after, "delete_version_after"),
        });
        noteTarget(request, { workspaceId: updated.id });
        return reply.code(204).send();
      },
    });
  }
};

/** Vault's subkeys: the map's shape with every leaf null, objects followed `depth` levels down (0: all the way). */
function subkeysOf(values: Readonly<Record<string, unknown>>, depth: number, level = 1): Record<string, unknown> {
  const shape: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    // A map with no keys is a leaf too.
    const nested = isMap(value) && Object.keys(value).length > 0 && (depth === 0 || level < depth);
    shape[key] = nested ? subkeysOf(value as Record<string, unknown>, depth, level + 1) : null;
  }
  return shape;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function casRequiredAsVault(error: unknown): void {
  if (error instanceof CasRequired) throw invalid("check-and-set parameter required for this call");
}

function casOf(options: { cas?: number | string } | undefined): number | undefined {
  return options?.cas === undefined ? undefined : Number(options.cas);
}

function dataOf(body: { data?: Record<string, unknown> }): Record<string, unknown> {
  if (body.data === undefined) throw invalid("no data provided");
  return body.data;
}

/** Vault's versions: integers, their decimal text, or one comma-separated string. */
function versionsOf(raw: number | string | (number | string)[] | undefined): number[] {
  const parts = raw === undefined ? [] : Array.isArray(raw) ? raw : typeof raw === "number" ? [raw] : raw.split(",").filter((part) => part.trim() !== "");
  if (parts.length === 0) throw invalid("no version number provided");
  const versions = parts.map((part) => (typeof part === "number" ? part : /^\s*\d+\s*$/.test(part) ? Number(part) : Number.NaN));
  if (versions.some((version) => !Number.isSafeInteger(version) || version < 1)) throw invalid("versions are version numbers: integers from 1");
  return versions;
}

/** A token's policies are checked on each request's path (the preHandler); the services apply the rest of its scope. */
function callerOf(principal: Principal): Principal {
  return principal.scope.scope.acl ? { ...principal, scope: principal.scope.withoutAcl } : principal;
}

function casFailure(): CofferError {
  return new CofferError("VERSION_CONFLICT", "check-and-set parameter did not match the current version");
}

function versionMetadata(read: SecretRead) {
  return {
    created_time: read.secret.updatedAt,
    custom_metadata: customMetadataOf(read.customMetadata),
    deletion_time: read.deletesAt === null ? "" : new Date(read.deletesAt).toISOString(),
    destroyed: false,
    version: read.secret.version,
  };
}

function writeResult(metadata: SecretMetadata, version: number) {
  const info = metadata.versions.find((v) => v.version === version);
  return {
    created_time: info?.createdAt ?? metadata.updatedAt,
    custom_metadata: customMetadataOf(metadata.customMetadata),
    deletion_time: vaultTime(info?.deletedAt),
    destroyed: false,
    version,
  };
}

function vaultMetadata(metadata: SecretMetadata) {
  const versions: Record<string, { created_time: string; deletion_time: string; destroyed: boolean }> = {};
  for (const v of [...metadata.versions].reverse()) {
    versions[String(v.version)] = { created_time: v.createdAt, deletion_time: vaultTime(v.deletedAt), destroyed: v.destroyed };
  }
  return {
    cas_required: metadata.casRequired,
    created_time: metadata.createdAt,
    current_version: metadata.currentVersion,
    custom_metadata: customMetadataOf(metadata.customMetadata),
    delete_version_after: formatDuration(metadata.deleteVersionAfter),
    max_versions: metadata.maxVersions ?? 0,
    oldest_version: metadata.oldestVersion,
    updated_time: metadata.updatedAt,
    versions,
  };
}
