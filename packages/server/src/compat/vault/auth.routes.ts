/**
 * Vault's auth/ paths: the calling token (lookup, renew, revoke), child
 * tokens, userpass login (Coffer users) and AppRole login (service
 * accounts: the role id is the account's id, the secret id one of its
 * tokens, exchanged for a short-lived child token as AppRole does).
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type, type TSchema } from "typebox";
import { CofferError, invalid } from "../../core/errors.ts";
import { noteTarget } from "../../http/audit.ts";
import type { AuthService } from "../../identity/auth.service.ts";
import type { Principal } from "../../identity/principal.ts";
import type { TokenService, TokenView } from "../../identity/token.service.ts";
import type { UserService } from "../../identity/user.service.ts";
import type { PolicyService } from "../../identity/policy.service.ts";
import { parseDuration } from "./duration.ts";
import { DEFAULT_MOUNT, envelope, workspaceOfMount, type VaultAuth } from "./vault.wire.ts";

export interface VaultAuthOptions {
  auth: AuthService;
  tokens: TokenService;
  users: UserService;
  policies: PolicyService;
}

const hide = true;
const Duration = Type.Union([Type.String(), Type.Integer({ minimum: 0 })]);
const Increment = Type.Optional(Duration);
const seconds = (value: string | number | null | undefined, field: string) => (value === undefined || value === null ? undefined : parseDuration(value, field) || undefined);
// Clients send every field, null when unset (hvac's create_token does): null is "not given".
const orNull = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));
const CreateBody = Type.Object({
  id: orNull(Type.String({ maxLength: 200 })),
  ttl: orNull(Duration),
  explicit_max_ttl: orNull(Duration),
  period: orNull(Duration),
  display_name: orNull(Type.String({ maxLength: 100 })),
  policies: orNull(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 50 })),
  meta: orNull(Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 512 }), { maxProperties: 64 })),
  renewable: orNull(Type.Boolean()),
  no_parent: orNull(Type.Boolean()),
  // Vault leaves `default` out of the token's policies; Coffer's `default` grants nothing of its own, so this changes nothing.
  no_default_policy: orNull(Type.Boolean()),
  num_uses: orNull(Type.Integer({ minimum: 0 })),
  type: orNull(Type.String()),
});

export const vaultAuthRoutes: FastifyPluginAsyncTypebox<VaultAuthOptions> = async (app, { auth, tokens, users, policies }) => {
  for (const method of ["GET", "POST"] as const) {
    app.route({
      method,
      url: "/auth/token/lookup-self",
      config: { audit: "token.self" },
      schema: { hide },
      handler: async (request) => {
        const info = await tokens.self(request.principal);
        noteTarget(request, { subject: info.id });
        return envelope(request.id, lookupView(info, request.principal));
      },
    });
  }

  // Another token, by the token itself or by its accessor (Coffer's token id): the caller's own, or one it may revoke.
  const lookups = [
    ["/auth/token/lookup", Type.Object({ token: Type.String({ maxLength: 200 }) }), (body: { token?: string; accessor?: string }) => ({ token: body.token! })],
    ["/auth/token/lookup-accessor", Type.Object({ accessor: Type.String({ maxLength: 100 }) }), (body: { token?: string; accessor?: string }) => ({ id: body.accessor! })],
  ] as const;
  for (const [url, body, refOf] of lookups) {
    app.post(url, {
      config: { audit: "token.lookup" },
      schema: { hide, body },
      handler: async (request) => {
        const info = await tokens.lookup(request.principal, refOf(request.body)).catch(asVaultTokenError);
        noteTarget(request, { subject: info.id });
        return envelope(request.id, lookupView(info, request.principal));
      },
    });
  }

  // Renewal, as Vault Agent and many clients do on a timer: a renewable token's expiry moves, never past its maximum.
  const renewals = [
    ["/auth/token/renew-self", Type.Optional(Type.Object({ increment: Increment })), async (request: FastifyRequest) => request.principal.tokenId],
    ["/auth/token/renew", Type.Object({ token: Type.String({ maxLength: 200 }), increment: Increment }), async (request: FastifyRequest) => (await tokens.lookup(request.principal, { token: (request.body as { token: string }).token }).catch(asVaultTokenError)).id],
    ["/auth/token/renew-accessor", Type.Object({ accessor: Type.String({ maxLength: 100 }), increment: Increment }), async (request: FastifyRequest) => (request.body as { accessor: string }).accessor],
  ] as const;
  for (const [url, body, idOf] of renewals) {
    app.post(url, {
      config: { audit: "token.renew" },
      schema: { hide, body },
      handler: async (request) => {
        const id = await idOf(request);
        noteTarget(request, { subject: id });
        const increment = seconds((request.body as { increment?: string | number } | undefined)?.increment, "increment");
        const info = await tokens.renew(request.principal, id, increment).catch(asVaultTokenError);
        return envelope(request.id, null, { auth: authView(null, info, request.principal.name) });
      },
    });
  }

  app.post("/auth/token/revoke-self", {
    config: { audit: "token.revoke-self" },
    schema: { hide },
    handler: async (request, reply) => {
      noteTarget(request, { subject: request.principal.tokenId });
      await tokens.revokeTokens([request.principal.tokenId]);
      return reply.code(204).send();
    },
  });

  // Another token and its children, by the token or by its accessor: one the caller may look up and revoke, else 403.
  const revocations = [
    ["/auth/token/revoke", Type.Object({ token: Type.String({ maxLength: 200 }) }), async (request: FastifyRequest) => (await tokens.lookup(request.principal, { token: (request.body as { token: string }).token }).catch(asVaultTokenError)).id],
    ["/auth/token/revoke-accessor", Type.Object({ accessor: Type.String({ maxLength: 100 }) }), async (request: FastifyRequest) => (request.body as { accessor: string }).accessor],
  ] as const;
  for (const [url, body, idOf] of revocations) {
    app.post(url, {
      config: { audit: "token.revoke" },
      schema: { hide, body },
      handler: async (request, reply) => {
        const id = await idOf(request);
        noteTarget(request, { subject: id });
        await tokens.revoke(request.principal, id).catch(asVaultTokenError);
        return reply.code(204).send();
      },
    });
  }

  // create-orphan is create with no_parent, as Vault's is (Coffer lets instance administrators make orphans).
  for (const [url, orphan] of [["/auth/token/create", false], ["/auth/token/create-orphan", true]] as const) {
    app.post(url, {
      config: { audit: "token.create-child" },
      schema: { hide, body: Type.Optional(Type.Union([CreateBody, Type.Null()])) },
      handler: async (request) => {
        const body = request.body ?? {};
        if (body.num_uses) throw invalid("Coffer tokens have no use count: num_uses is not supported; give a short ttl instead");
        if (body.type && body.type !== "service" && body.type !== "default") throw invalid("Coffer tokens are service tokens: type must be service");
        if (body.id) throw invalid("Coffer makes every token itself: id is not supported");
        // Policies bind the token to the workspace they belong to (the `secret/` mount's).
        const wanted = body.policies?.filter((name) => name !== "") ?? [];
        const workspace = wanted.length > 0 ? await policies.checkNames(request.principal, workspaceOfMount(request.principal, DEFAULT_MOUNT), wanted) : undefined;
        const minted = await tokens.createChild(request.principal, {
          name: body.display_name ?? undefined,
          workspace,
          ttl: seconds(body.ttl, "ttl"),
          explicitMaxTtl: seconds(body.explicit_max_ttl, "explicit_max_ttl"),
          period: seconds(body.period, "period"),
          renewable: body.renewable ?? undefined,
          meta: body.meta ?? undefined,
          policies: wanted.length > 0 ? [...new Set(wanted)].sort() : undefined,
          orphan: orphan || (body.no_parent ?? undefined),
        });
        noteTarget(request, { subject: minted.info.id });
        return envelope(request.id, null, { auth: authView(minted.token, minted.info, request.principal.name) });
      },
    });
  }

  app.post("/auth/userpass/login/:username", {
    config: { public: true, audit: "auth.login" },
    schema: { hide, params: Type.Object({ username: Type.String() }), body: Type.Object({ password: Type.String({ maxLength: 1024 }) }) },
    handler: async (request) => {
      noteTarget(request, { subject: request.params.username });
      const session = await users.login(request.params.username, request.body.password, request.ip).catch(asLoginFailure("invalid username or password"));
      return envelope(request.id, null, { auth: authView(session.token, session.info, session.user.username) });
    },
  });

  app.post("/auth/approle/login", {
    config: { public: true, audit: "auth.login" },
    schema: { hide, body: Type.Object({ role_id: Type.String({ maxLength: 100 }), secret_id: Type.String({ maxLength: 200 }) }) },
    handler: async (request) => {
      const refused = asLoginFailure("invalid role or secret ID");
      noteTarget(request, { subject: request.body.role_id });
      const principal = await auth.authenticate(request.body.secret_id, request.ip).catch(refused);
      if (principal.kind !== "service_account" || principal.id !== request.body.role_id) return refused(new CofferError("UNAUTHENTICATED", "not this role"));
      // The child keeps the secret ID token's policies (and scope), as an AppRole token carries its role's.
      const minted = await tokens.createChild(principal, { name: "approle" });
      return envelope(request.id, null, { auth: authView(minted.token, minted.info, principal.name) });
    },
  });
};

/** A failed login answers as Vault does (400, one message), whichever part was wrong; other errors pass. */
function asLoginFailure(message: string) {
  return (error: unknown): never => {
    if (error instanceof CofferError && error.code === "UNAUTHENTICATED") throw invalid(message);
    throw error;
  };
}

/** Vault's token errors: an unknown token is a 403 for renew and lookup alike; "lease is not renewable" is its 400. */
function asVaultTokenError(error: unknown): never {
  if (error instanceof CofferError && error.code === "NOT_FOUND") throw new CofferError("ACCESS_DENIED", "permission denied");
  throw error;
}

function secondsLeft(info: TokenView): number {
  // Rounded up: a token made with ttl 1h shows 3600 as Vault's does, not 3599 a moment later.
  return info.expiresAt === null ? 0 : Math.max(0, Math.ceil((info.expiresAt - Date.now()) / 1000));
}

/** Vault lists `default` with every token's policies. */
function policiesOf(info: TokenView): string[] {
  return [...new Set(["default", ...(info.policies ?? [])])].sort();
}

function authView(token: string | null, info: TokenView, name: string): VaultAuth {
  return {
    client_token: token ?? "",
    accessor: info.id,
    policies: policiesOf(info),
    token_policies: policiesOf(info),
    metadata: info.meta ?? { name, access: info.access },
    lease_duration: secondsLeft(info),
    renewable: info.renewable,
    entity_id: info.principalId,
    token_type: "service",
    orphan: info.parentId === null,
    num_uses: 0,
  };
}

function lookupView(info: TokenView, principal: Principal) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const lifetime = (end: number | null) => (end === null ? 0 : Math.round((end - info.createdAt) / 1000));
  return {
    // Vault puts the token itself here; Coffer never echoes a token, so this is its id (as is the accessor).
    id: info.id,
    accessor: info.id,
    creation_time: Math.floor(info.createdAt / 1000),
    creation_ttl: info.ttlSeconds ?? lifetime(info.expiresAt),
    display_name: info.name,
    entity_id: info.principalId,
    expire_time: iso(info.expiresAt),
    explicit_max_ttl: lifetime(info.maxExpiresAt),
    issue_time: iso(info.createdAt),
    meta: info.meta ?? { name: info.principalId === principal.id ? principal.name : info.principalId, kind: principal.kind, access: info.access, workspace: info.workspaceId ?? "" },
    num_uses: 0,
    orphan: info.parentId === null,
    path: info.kind === "session" ? "auth/userpass/login" : "auth/token/create",
    policies: policiesOf(info),
    renewable: info.renewable,
    ttl: secondsLeft(info),
    type: "service",
    ...(info.periodSeconds !== null ? { period: info.periodSeconds } : {}),
  };
}
