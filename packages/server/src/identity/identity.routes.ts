/** Login and logout, tokens, users and service accounts. */
import cookie from "@fastify/cookie";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { SESSION_COOKIE } from "../http/auth.ts";
import { errorResponses, WorkspaceParams } from "../http/schemas.ts";
import { NewToken, ScopeBody, TokenInfo, tokenView, User, userView } from "./identity.schemas.ts";
import type { ServiceAccountService } from "./service-account.service.ts";
import type { TokenService } from "./token.service.ts";
import type { UserService } from "./user.service.ts";

export interface IdentityRoutesOptions {
  users: UserService;
  tokens: TokenService;
  serviceAccounts: ServiceAccountService;
}

export const identityRoutes: FastifyPluginAsyncTypebox<IdentityRoutesOptions> = async (app, { users, tokens, serviceAccounts }) => {
  // Only login and logout set cookies: registered here, its onSend hook runs for these routes alone, not on the read path.
  await app.register(cookie, { hook: false });
  app.addSchema(TokenInfo);
  app.addSchema(User);
  const auth = ["auth"];

  app.post("/api/v1/auth/login", {
    config: { public: true, audit: "auth.login" },
    schema: {
      tags: auth,
      summary: "Log in with username and password: a session token in the answer (session \"token\", the default, for the CLI and scripts) or only in an HttpOnly cookie (session \"cookie\", for browsers), and its CSRF token",
      security: [],
      body: Type.Object(
        {
          username: Type.String({ maxLength: 64 }),
          password: Type.String({ maxLength: 1024 }),
          session: Type.Optional(
            Type.Union([Type.Literal("token"), Type.Literal("cookie")], {
              description: "token (default): the answer carries the token, no cookie is set. cookie: the token is set only as an HttpOnly cookie, never in the answer, so a page's scripts cannot read it",
            }),
          ),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({ token: Type.Optional(Type.String()), csrfToken: Type.String(), expiresAt: Type.String({ format: "date-time" }), user: Type.Ref("User") }),
        ...errorResponses,
      },
    },
    handler: async (request, reply) => {
      request.auditTarget.subject = request.body.username;
      const session = await users.login(request.body.username, request.body.password, request.ip);
      const answer = { csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString(), user: userView(session.user) };
      if (request.body.session !== "cookie") return { token: session.token, ...answer };
      reply.setCookie(SESSION_COOKIE, session.token, {
        httpOnly: true,
        sameSite: "strict",
        secure: request.protocol === "https",
        path: "/",
        expires: new Date(session.expiresAt),
      });
      return answer;
    },
  });

  app.post("/api/v1/auth/logout", {
    config: { audit: "auth.logout" },
    schema: { tags: auth, summary: "Revoke the calling token (and every token minted from it)", response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await tokens.revokeTokens([request.principal.tokenId]);
      reply.clearCookie(SESSION_COOKIE, { path: "/" });
      return reply.code(204).send(null);
    },
  });

  app.get("/api/v1/auth/token/self", {
    config: { audit: "token.self" },
    schema: { tags: auth, summary: "The calling token: its identity, scope and expiry", response: { 200: Type.Ref("TokenInfo"), ...errorResponses } },
    handler: async (request) => tokenView(await tokens.self(request.principal)),
  });

  app.post("/api/v1/auth/token/child", {
    config: { audit: "token.create-child" },
    schema: {
      tags: auth,
      summary: "Mint a child of the calling token: never wider, never longer-lived (default 1 hour); revoked with its parent",
      body: ScopeBody,
      response: { 201: NewToken, ...errorResponses },
    },
    handler: async (request, reply) => {
      const minted = await tokens.createChild(request.principal, request.body);
      return reply.code(201).send({ token: minted.token, info: tokenView(minted.info) });
    },
  });

  app.get("/api/v1/auth/tokens", {
    config: { audit: "token.list" },
    schema: { tags: auth, summary: "The caller's live tokens (metadata only)", response: { 200: Type.Object({ tokens: Type.Array(Type.Ref("TokenInfo")) }), ...errorResponses } },
    handler: async (request) => ({ tokens: (await tokens.list(request.principal)).map(tokenView) }),
  });

  app.post("/api/v1/auth/tokens", {
    config: { audit: "token.create" },
    schema: { tags: auth, summary: "Create an API token for the caller, optionally limited in scope and lifetime", body: ScopeBody, response: { 201: NewToken, ...errorResponses } },
    handler: async (request, reply) => {
      const minted = await tokens.create(request.principal, request.body);
      return reply.code(201).send({ token: minted.token, info: tokenView(minted.info) });
    },
  });

  app.delete("/api/v1/auth/tokens/:id", {
    config: { audit: "token.revoke" },
    schema: { tags: auth, summary: "Revoke a token and every token minted from it", params: Type.Object({ id: Type.String() }), response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await tokens.revoke(request.principal, request.params.id);
      return reply.code(204).send(null);
    },
  });

  const admin = ["users"];
  const UserParams = Type.Object({ user: Type.String({ description: "User id or username" }) });

  app.get("/api/v1/users", {
    config: { audit: "user.list" },
    schema: { tags: admin, summary: "List users (administrators)", response: { 200: Type.Object({ users: Type.Array(Type.Ref("User")) }), ...errorResponses } },
    handler: async (request) => ({ users: (await users.list(request.principal)).map(userView) }),
  });

  app.post("/api/v1/users", {
    config: { audit: "user.create" },
    schema: {
      tags: admin,
      summary: "Create a user (administrators)",
      body: Type.Object({ username: Type.String(), password: Type.Optional(Type.String()), admin: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 201: Type.Ref("User"), ...errorResponses },
    },
    handler: async (request, reply) => reply.code(201).send(userView(await users.create(request.principal, request.body))),
  });

  app.get("/api/v1/users/:user", {
    config: { audit: "user.read" },
    schema: { tags: admin, summary: "Read a user (administrators)", params: UserParams, response: { 200: Type.Ref("User"), ...errorResponses } },
    handler: async (request) => userView(await users.get(request.principal, request.params.user)),
  });

  app.patch("/api/v1/users/:user", {
    config: { audit: "user.update" },
    schema: {
      tags: admin,
      summary: "Disable or re-enable a user, set its password or admin flag (administrators); disabling stops its tokens at once",
      params: UserParams,
      body: Type.Object({ disabled: Type.Optional(Type.Boolean()), password: Type.Optional(Type.String()), admin: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 200: Type.Ref("User"), ...errorResponses },
    },
    handler: async (request) => userView(await users.update(request.principal, request.params.user, request.body)),
  });

  const machines = ["service accounts"];
  const ServiceAccount = Type.Object({ id: Type.String(), name: Type.String(), description: Type.String(), createdAt: Type.String({ format: "date-time" }) });
  const saView = (account: { id: string; name: string; description: string; createdAt: number }) => ({ ...account, createdAt: new Date(account.createdAt).toISOString() });
  const SaParams = Type.Object({ workspace: Type.String(), account: Type.String({ description: "Service account id or name" }) });
  const sas = "/api/v1/workspaces/:workspace/service-accounts";

  app.get(sas, {
    config: { audit: "service-account.list" },
    schema: { tags: machines, summary: "List service accounts (workspace admins)", params: WorkspaceParams, response: { 200: Type.Object({ serviceAccounts: Type.Array(ServiceAccount) }), ...errorResponses } },
    handler: async (request) => ({ serviceAccounts: (await serviceAccounts.list(request.principal, request.params.workspace)).map(saView) }),
  });

  app.post(sas, {
    config: { audit: "service-account.create" },
    schema: {
      tags: machines,
      summary: "Create a service account: a machine identity for an agent or pipeline (workspace admins)",
      params: WorkspaceParams,
      body: Type.Object({ name: Type.String(), description: Type.Optional(Type.String()) }, { additionalProperties: false }),
      response: { 201: ServiceAccount, ...errorResponses },
    },
    handler: async (request, reply) => reply.code(201).send(saView(await serviceAccounts.create(request.principal, request.params.workspace, request.body))),
  });

  app.delete(`${sas}/:account`, {
    config: { audit: "service-account.delete" },
    schema: { tags: machines, summary: "Remove a service account and revoke its tokens (workspace admins)", params: SaParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await serviceAccounts.remove(request.principal, request.params.workspace, request.params.account);
      return reply.code(204).send(null);
    },
  });

  app.get(`${sas}/:account/tokens`, {
    config: { audit: "service-account.token-list" },
    schema: { tags: machines, summary: "A service account's live tokens (workspace admins)", params: SaParams, response: { 200: Type.Object({ tokens: Type.Array(Type.Ref("TokenInfo")) }), ...errorResponses } },
    handler: async (request) => ({ tokens: (await tokens.listForServiceAccount(request.principal, request.params.workspace, request.params.account)).map(tokenView) }),
  });

  app.post(`${sas}/:account/tokens`, {
    config: { audit: "service-account.token-create" },
    schema: {
      tags: machines,
      summary: "Create a token for a service account, bound to its workspace (workspace admins)",
      params: SaParams,
      body: Type.Omit(ScopeBody, ["workspace"], { additionalProperties: false }),
      response: { 201: NewToken, ...errorResponses },
    },
    handler: async (request, reply) => {
      const minted = await tokens.createForServiceAccount(request.principal, request.params.workspace, request.params.account, request.body);
      return reply.code(201).send({ token: minted.token, info: tokenView(minted.info) });
    },
  });
};
