/**
 * Vault's auth/ paths: the calling token (lookup, renew, revoke), child
 * tokens, userpass login (Coffer users) and AppRole login (service
 * accounts: the role id is the account's id, the secret id one of its
 * tokens, exchanged for a short-lived child token as AppRole does).
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { CofferError, invalid } from "../../core/errors.ts";
import { noteTarget } from "../../http/audit.ts";
import type { AuthService } from "../../identity/auth.service.ts";
import type { Principal } from "../../identity/principal.ts";
import type { TokenService, TokenView } from "../../identity/token.service.ts";
import type { UserService } from "../../identity/user.service.ts";
import { envelope, parseDuration, type VaultAuth } from "./vault.wire.ts";

export interface VaultAuthOptions {
  auth: AuthService;
  tokens: TokenService;
  users: UserService;
}

const hide = true;
const Duration = Type.Union([Type.String(), Type.Integer({ minimum: 0 })]);

export const vaultAuthRoutes: FastifyPluginAsyncTypebox<VaultAuthOptions> = async (app, { auth, tokens, users }) => {
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

  app.post("/auth/token/renew-self", {
    config: { audit: "token.self" },
    schema: { hide, body: Type.Optional(Type.Object({ increment: Type.Optional(Duration) })) },
    handler: async (request) => {
      const info = await tokens.self(request.principal);
      noteTarget(request, { subject: info.id });
      // Coffer tokens keep the lifetime they were minted with; the answer says so instead of pretending.
      return envelope(request.id, null, { auth: authView(null, info, request.principal.name), warnings: ["Coffer tokens are not renewable; the lifetime is unchanged"] });
    },
  });

  app.post("/auth/token/revoke-self", {
    config: { audit: "token.revoke-self" },
    schema: { hide },
    handler: async (request, reply) => {
      noteTarget(request, { subject: request.principal.tokenId });
      await tokens.revokeTokens([request.principal.tokenId]);
      return reply.code(204).send();
    },
  });

  app.post("/auth/token/create", {
    config: { audit: "token.create-child" },
    schema: {
      hide,
      body: Type.Optional(
        Type.Object({
          ttl: Type.Optional(Duration),
          display_name: Type.Optional(Type.String({ maxLength: 100 })),
          policies: Type.Optional(Type.Array(Type.String())),
          meta: Type.Optional(Type.Record(Type.String(), Type.String())),
          renewable: Type.Optional(Type.Boolean()),
          no_parent: Type.Optional(Type.Boolean()),
          num_uses: Type.Optional(Type.Integer({ minimum: 0 })),
        }),
      ),
    },
    handler: async (request) => {
      const body = request.body ?? {};
      if (body.no_parent) throw invalid("Coffer mints child tokens here: no_parent is not supported (POST /api/v1/auth/tokens makes independent ones)");
      // A restriction the client asked for and Coffer cannot honour must not turn into a token with more access than asked.
      if (body.policies?.some((policy) => policy !== "default")) {
        throw invalid("Coffer has no Vault policies: narrow a child token with POST /api/v1/auth/token/child (secrets, access, ttl) instead");
      }
      if (body.num_uses !== undefined && body.num_uses > 0) throw invalid("Coffer tokens have no use count: num_uses is not supported; give a short ttl instead");
      const ttl = body.ttl === undefined ? undefined : parseDuration(body.ttl, "ttl") || undefined;
      const minted = await tokens.createChild(request.principal, { name: body.display_name, ttl });
      noteTarget(request, { subject: minted.info.id });
      return envelope(request.id, null, { auth: authView(minted.token, minted.info, request.principal.name) });
    },
  });

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

function secondsLeft(info: TokenView): number {
  return info.expiresAt === null ? 0 : Math.max(0, Math.floor((info.expiresAt - Date.now()) / 1000));
}

function authView(token: string | null, info: TokenView, name: string): VaultAuth {
  return {
    client_token: token ?? "",
    accessor: info.id,
    policies: ["default"],
    token_policies: ["default"],
    metadata: { name, access: info.access },
    lease_duration: secondsLeft(info),
    renewable: false,
    entity_id: info.principalId,
    token_type: "service",
    orphan: info.parentId === null,
    num_uses: 0,
  };
}

function lookupView(info: TokenView, principal: Principal) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    // Vault puts the token itself here; Coffer never echoes a token, so this is its id (as is the accessor).
    id: info.id,
    accessor: info.id,
    creation_time: Math.floor(info.createdAt / 1000),
    creation_ttl: info.expiresAt === null ? 0 : Math.round((info.expiresAt - info.createdAt) / 1000),
    display_name: info.name,
    entity_id: info.principalId,
    expire_time: iso(info.expiresAt),
    explicit_max_ttl: 0,
    issue_time: iso(info.createdAt),
    meta: { name: principal.name, kind: principal.kind, access: info.access, workspace: info.workspaceId ?? "" },
    num_uses: 0,
    orphan: info.parentId === null,
    path: info.kind === "session" ? "auth/userpass/login" : "auth/token/create",
    policies: ["default"],
    renewable: false,
    ttl: secondsLeft(info),
    type: "service",
  };
}
