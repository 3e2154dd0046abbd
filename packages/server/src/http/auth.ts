/**
 * Every route is authenticated unless it says `config: { public: true }`.
 * The bearer token becomes a principal on the request before the handler runs.
 */
import type { FastifyInstance } from "fastify";
import type { AuthService } from "../identity/auth.service.ts";
import type { Principal } from "../identity/principal.ts";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    public?: boolean;
  }
}

export function installAuthentication(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest("principal", null as unknown as Principal);
  app.addHook("onRequest", async (request) => {
    if (request.routeOptions.config.public || request.is404) return;
    request.principal = await auth.authenticate(bearerToken(request.headers.authorization));
  });
}

function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, token] = header.split(" ", 2);
  return scheme?.toLowerCase() === "bearer" ? token?.trim() : undefined;
}
