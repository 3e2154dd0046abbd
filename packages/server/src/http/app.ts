/**
 * Builds the HTTP application around an opened core; never listens (main.ts
 * does), so tests can build their own and call it in-process.
 */
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import type { Coffer } from "../coffer.ts";
import { groupRoutes } from "../access/group.routes.ts";
import { alertRoutes } from "../alert/alert.routes.ts";
import { approvalRoutes } from "../approval/approval.routes.ts";
import { auditRoutes } from "../audit/audit.routes.ts";
import { backupRoutes } from "../backup/backup.routes.ts";
import { identityRoutes } from "../identity/identity.routes.ts";
import { vaultListUrl, vaultRoutes, VAULT_PREFIX } from "../compat/vault/vault.routes.ts";
import { vellumErrorShape, vellumRoutes, VELLUM_PREFIX } from "../compat/vellum/vellum.routes.ts";
import { vaultErrorShape } from "../compat/vault/vault.wire.ts";
import { keyRoutes } from "../keys/keys.routes.ts";
import { mcpRoutes } from "../mcp/mcp.routes.ts";
import { lifecycleRoutes } from "../lifecycle/lifecycle.routes.ts";
import { rotationRoutes } from "../rotation/rotation.routes.ts";
import { secretRoutes } from "../secret/secret.routes.ts";
import { secretFolderRoutes } from "../secret/secret-folders.routes.ts";
import { hmacRoutes } from "../signing/hmac.routes.ts";
import { relayRoutes } from "../relay/relay.routes.ts";
import { sealRoutes } from "../sys/seal.routes.ts";
import { sysRoutes } from "../sys/sys.routes.ts";
import { workspaceRoutes } from "../workspace/workspace.routes.ts";
import { installAudit } from "./audit.ts";
import { installOrigin } from "./origin.ts";
import { installAuthentication } from "./auth.ts";
import { installErrorHandling, jsonBodyParser } from "./errors.ts";
import { installSealGate } from "./seal-gate.ts";
import { tookListVerb } from "./list-verb.ts";
import { answerClientError, frameworkErrorHandler, type ErrorShapes } from "./framework-errors.ts";
import { installRateLimits } from "./rate-limit.ts";
import { openApiDocument } from "./openapi.ts";
import { installRouteConfig } from "./route-config.ts";
import { requestLoggerOf } from "./request-logger.ts";
import { serializers, validators } from "./schema-compilers.ts";
import { ErrorResponse } from "./schemas.ts";
import { DEFAULT_WEB_ROOT, webRoutes } from "./web.ts";

export const VERSION = "0.1.0";

/** Bodies beyond this are refused before parsing; a secret's data itself is capped at 64 KiB. */
const BODY_LIMIT = 256 * 1024;

/** Errors raised before an API's own handler runs are answered in that API's shape (framework-errors.ts). */
const ERROR_SHAPES: ErrorShapes = [
  [VAULT_PREFIX, vaultErrorShape],
  [VELLUM_PREFIX, vellumErrorShape],
];

export interface AppOptions {
  logger?: FastifyServerOptions["logger"];
  /** The built web UI served at `/` (default packages/web/dist). */
  webRoot?: string;
}

export async function buildApp(coffer: Coffer, options: AppOptions = {}): Promise<FastifyInstance> {
  // One sequence for requests Fastify sees and for those Node's parser refused before it could.
  const requestId = requestIds();
  // The server's logger is Coffer's, not Fastify's: a Fastify with a logger times every response and
  // adds and removes two listeners on it, for the request log lines Coffer does not write (they cost a
  // third of the read path). Requests still log (errors, request-logger.ts), and so does the instance
  // (app.log: "Server listening at", hooks that fail when closing).
  const logger = options.logger ? pino(options.logger === true ? {} : options.logger, (options.logger as { stream?: pino.DestinationStream }).stream) : undefined;
  const app = Fastify({
    logger: false,
    ...(logger ? { childLoggerFactory: requestLoggerOf(logger) } : {}),
    // No "incoming request" line either (Fastify writes it through the request's logger).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    genReqId: requestId,
    requestIdHeader: false,
    // A secret name is up to 256 characters, three times that URL-encoded (`/` as %2F); Fastify's default is 100.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // Given as a factory, not setValidatorCompiler(): plugins that add shared schemas rebuild their compiler from it.
    schemaController: { compilersFactory: { buildValidator: validators as never, buildSerializer: serializers as never } },
    // Vault's LIST verb: Node's parser refuses it as a client error; list-verb.ts hands such connections on.
    clientErrorHandler(this: FastifyInstance, error, socket) {
      if (!tookListVerb(this.server, error, socket)) answerClientError(error, socket, ERROR_SHAPES, requestId);
    },
    frameworkErrors: frameworkErrorHandler(ERROR_SHAPES),
    rewriteUrl: vaultListUrl,
  }).withTypeProvider<TypeBoxTypeProvider>();
  if (logger) app.log = logger;

  installErrorHandling(app);
  installRouteConfig(app);
  installOrigin(app);
  // The API speaks JSON only; anything else is refused before a handler sees it. An empty JSON
  // body is no body (clients send the header on bodiless PUTs); routes that need one say so.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("application/json", { parseAs: "string" }, jsonBodyParser(app));
  installAudit(app, {
    log: coffer.auditSettings.mode === "off" ? null : coffer.audit,
    clock: coffer.clock,
    workspaceIdOf: (ref) => coffer.workspaces.cachedId(ref) ?? coffer.workspaces.idOf(ref),
  });
  app.addHook("onSend", (_request, reply, payload, done) => {
    // No browser, proxy or CDN keeps an answer that may hold a secret (as Vault's API does); the
    // UI's files say how they are cached themselves (web.ts), and relayed answers keep the upstream's.
    if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
    // A draining node tells keep-alive clients (a balancer's pooled connections, the SDK) to reconnect,
    // and so reach a node that stays, before it stops listening.
    if (coffer.draining) reply.header("connection", "close");
    done(null, payload);
  });
  installSealGate(app, coffer.keys, coffer.seal);
  installAuthentication(app, coffer.auth);
  installRateLimits(app, coffer.limits, coffer.workspaces);
  app.addSchema(ErrorResponse);

  const openApi = openApiDocument(app, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "Coffer API", version: VERSION, description: "Secrets for teams and AI agents. Every route but health and this document needs `Authorization: Bearer <token>`." },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`) },
  });

  await app.register(sysRoutes, { healthy: coffer.healthy, sealed: () => coffer.keys.sealed, draining: () => coffer.draining, version: VERSION, openApi });
  await app.register(sealRoutes, { seal: coffer.seal });
  await app.register(identityRoutes, { users: coffer.users, tokens: coffer.tokens, serviceAccounts: coffer.serviceAccounts });
  await app.register(workspaceRoutes, { workspaces: coffer.workspaces, secrets: coffer.secrets });
  await app.register(groupRoutes, { groups: coffer.groups });
  await app.register(secretRoutes, { secrets: coffer.secrets, grants: coffer.grants });
  await app.register(secretFolderRoutes, { secrets: coffer.secrets, folders: coffer.folders });
  await app.register(keyRoutes, { keys: coffer.keys });
  await app.register(auditRoutes, { reader: coffer.auditReader });
  await app.register(alertRoutes, { alerts: coffer.alerts, webhooks: coffer.webhooks });
  await app.register(hmacRoutes, { hmac: coffer.hmac, secrets: coffer.secrets });
  await app.register(rotationRoutes, { rotation: coffer.rotation });
  await app.register(lifecycleRoutes, { lifecycle: coffer.lifecycle });
  await app.register(relayRoutes, { relay: coffer.relay, routes: coffer.relayRoutes, secrets: coffer.secrets, audit: coffer.auditSettings.mode === "off" ? null : coffer.audit, clock: coffer.clock });
  await app.register(approvalRoutes, { approvals: coffer.approvals, secrets: coffer.secrets });
  await app.register(mcpRoutes);
  await app.register(webRoutes, { root: options.webRoot ?? DEFAULT_WEB_ROOT });
  await app.register(backupRoutes, { backups: coffer.backups });
  // Compatibility APIs (hidden from the OpenAPI document): thin adapters over the same services.
  await app.register(vaultRoutes, { prefix: VAULT_PREFIX, coffer, version: VERSION });
  await app.register(vellumRoutes, { prefix: VELLUM_PREFIX, secrets: coffer.secrets, limits: coffer.limits });
  return app;
}

/** Unique per process and across nodes, without a random draw per request. */
function requestIds(): () => string {
  const node = randomBytes(4).toString("hex");
  let counter = 0;
  return () => `req_${node}${(counter++).toString(36)}`;
}
