/**
 * The Vault-compatible API under /v1: its own token header, body parsing and
 * error shape, scoped to this plugin by Fastify's encapsulation, so the
 * native API is untouched. The routes call core services only.
 */
import type { FastifyError, FastifyPluginAsync, FastifyRequest } from "fastify";
import type { IncomingMessage } from "node:http";
import type { Coffer } from "../../coffer.ts";
import { bearerToken } from "../../http/auth.ts";
import { cofferErrorOf, jsonBodyParser, sendError } from "../../http/errors.ts";
import { vaultAuthRoutes } from "./auth.routes.ts";
import { kvRoutes } from "./kv.routes.ts";
import { vaultPolicyRoutes } from "./policy.routes.ts";
import { vaultSysRoutes } from "./sys.routes.ts";
import { envelope, vaultErrorShape } from "./vault.wire.ts";

export const VAULT_PREFIX = "/v1";

/** X-Vault-Token, as Vault's clients send it, or a bearer token. */
function vaultToken(request: FastifyRequest): string | undefined {
  const header = request.headers["x-vault-token"];
  return (typeof header === "string" && header !== "" ? header : undefined) ?? bearerToken(request.headers.authorization);
}

export const vaultRoutes: FastifyPluginAsync<{ coffer: Coffer; version: string }> = async (app, { coffer, version }) => {
  app.addHook("onRoute", (route) => {
    route.config = { ...route.config, token: vaultToken };
  });

  // Vault's clients send JSON with any content type, or none (the CLI), and merge-patch+json for PATCH.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, jsonBodyParser(app));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    // Vault's error body has no request id; the header lets an operator find the request in the audit log.
    reply.header("x-request-id", request.id);
    sendError(reply, request, cofferErrorOf(error, request), vaultErrorShape);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0]!.slice(VAULT_PREFIX.length + 1);
    const [mount = "", kind = ""] = path.split("/");
    // A KV version 1 path on a version 2 engine (`secret/app` for `secret/data/app`): Vault's 404 says what to use instead.
    if (mount !== "" && !SYSTEM_MOUNTS.has(mount) && !KV_PATHS.has(kind)) {
      return reply.code(404).type("application/json").send(envelope(request.id, null, { warnings: [kvPathWarning(request.method, request.url)] }));
    }
    reply.code(404).type("application/json").send({ errors: [`no handler for route "${path}". route entry not found.`] });
  });

  // The web UI answers every other GET path with its page; under this prefix an unknown path is this API's 404.
  app.get("/*", { config: { public: true }, schema: { hide: true } }, (_request, reply) => reply.callNotFound());

  await app.register(vaultSysRoutes, { workspaces: coffer.workspaces, seal: coffer.seal, healthy: coffer.healthy, version });
  await app.register(vaultAuthRoutes, { auth: coffer.auth, tokens: coffer.tokens, users: coffer.users, policies: coffer.policies });
  await app.register(vaultPolicyRoutes, { policies: coffer.policies });
  await app.register(kvRoutes, { secrets: coffer.secrets, workspaces: coffer.workspaces, limits: coffer.limits });
};

/** Vault's own mounts; any other first segment names a KV engine (a workspace). */
const SYSTEM_MOUNTS = new Set(["sys", "auth", "identity", "cubbyhole"]);
/** What follows the mount on a KV version 2 engine. */
const KV_PATHS = new Set(["data", "metadata", "delete", "undelete", "destroy", "subkeys", "config", "list"]);

function kvPathWarning(method: string, url: string): string {
  const command = LIST_QUERY.test(url) ? "list" : method === "GET" ? "get" : method === "DELETE" ? "delete" : method === "PATCH" ? "patch" : "put";
  return `Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv ${command}' for this operation.`;
}

const LIST_QUERY = /[?&]list=(true|1)(&|$)/;
const METADATA = /^\/v1\/([^/?]+)\/metadata(\/[^?]*)?(\?.*)?$/;

/**
 * Fastify's rewriteUrl: Vault lists with `GET …/metadata/<folder>?list=true`
 * (and LIST, which arrives as that), a query string where routes go by path,
 * so those move to `…/list/<folder>`, a route with its own audit action.
 * Every other URL is returned as it came after one character comparison.
 */
export function vaultListUrl(request: IncomingMessage): string {
  const url = request.url ?? "/";
  if (url.charCodeAt(2) !== 49 /* the 1 of /v1/ */ || !LIST_QUERY.test(url)) return url;
  const match = METADATA.exec(url);
  return match ? `/v1/${match[1]}/list${match[2] ?? ""}${match[3] ?? ""}` : url;
}
