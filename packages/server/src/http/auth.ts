/**
 * Every route is authenticated unless it says `config: { public: true }`.
 * Programs send `Authorization: Bearer <token>`; the web UI holds its session
 * token in an HttpOnly, SameSite=Strict cookie, and must echo the session's
 * CSRF token in `X-CSRF-Token` on every request that changes something.
 * Compatibility APIs name where their clients put the token with
 * `config: { token: (request) => … }` (X-Vault-Token, X-API-KEY); those
 * routes never read the cookie.
 */
import { fastifyCookie } from "@fastify/cookie";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { CofferError } from "../core/errors.ts";
import { csrfTokenFor, sameSecret } from "../crypto/tokens.ts";
import type { AuthService } from "../identity/auth.service.ts";
import type { Principal } from "../identity/principal.ts";

export const SESSION_COOKIE = "coffer_session";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
    /** Whether the token came from the session cookie rather than an Authorization header. */
    viaCookie: boolean;
  }
  interface FastifyContextConfig {
    public?: boolean;
    /** Where this route's clients send their token, instead of Authorization or the session cookie. */
    token?: TokenExtractor;
  }
}

export type TokenExtractor = (request: FastifyRequest) => string | undefined;

export function installAuthentication(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest("principal", null as unknown as Principal);
  app.decorateRequest("viaCookie", false);
  // A callback hook: a request whose token is cached costs no promise here.
  app.addHook("onRequest", (request, _reply, done) => {
    const config = request.routeConfig;
    if (config.public || request.is404) return done();
    let token: string | undefined;
    let principal: Principal | Promise<Principal>;
    try {
      if (config.token) {
        token = config.token(request);
      } else {
        token = bearerToken(request.headers.authorization);
        if (token === undefined) {
          const cookies = request.headers.cookie;
          token = cookies ? fastifyCookie.parse(cookies)[SESSION_COOKIE] : undefined;
          request.viaCookie = token !== undefined;
        }
      }
      principal = auth.principalOf(token, request.ip);
    } catch (error) {
      return done(error as Error);
    }
    if (principal instanceof Promise) principal.then((found) => admit(request, found, token, done), done);
    else admit(request, principal, token, done);
  });
}

function admit(request: FastifyRequest, principal: Principal, token: string | undefined, done: (error?: Error) => void): void {
  request.principal = principal;
  if (request.viaCookie && !SAFE_METHODS.has(request.method)) {
    try {
      checkCsrf(request, token!);
    } catch (error) {
      return done(error as Error);
    }
  }
  done();
}

function checkCsrf(request: FastifyRequest, token: string): void {
  const sent = request.headers["x-csrf-token"];
  if (typeof sent !== "string" || !sameSecret(sent, csrfTokenFor(token))) {
    throw new CofferError("ACCESS_DENIED", "missing or wrong X-CSRF-Token header for a cookie session");
  }
}

const BEARER = "bearer";

export function bearerToken(header: string | undefined): string | undefined {
  // `Bearer <token>`, the token ending at the next space if any. Every request passes here: no split() array.
  if (!header || header.indexOf(" ") !== BEARER.length || header.slice(0, BEARER.length).toLowerCase() !== BEARER) return undefined;
  const end = header.indexOf(" ", BEARER.length + 1);
  return header.slice(BEARER.length + 1, end === -1 ? undefined : end).trim();
}
