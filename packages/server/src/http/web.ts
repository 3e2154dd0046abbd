/**
 * The web UI: the Vite build of packages/web served at `/`, with a strict
 * Content-Security-Policy (no inline script, no framing). Client-side routes
 * (`/secrets/…`, `/admin/…`) get index.html; the API prefixes never do, so an
 * unknown `/api/v1/…` still answers NOT_FOUND as JSON (and `/v1/…`,
 * `/vellum/…` their own 404s, from their own catch-all routes). These routes are
 * public (the page holds no data; the API checks every call) and hidden from
 * the OpenAPI document.
 *
 * Files go out through @fastify/send (ETag, Last-Modified, 304s, ranges),
 * loaded with the first file asked for: a server only the API and the CLI
 * use never holds it (~1.2 MiB of an idle server with @fastify/static, which
 * also loaded glob).
 */
import type { SendOptions } from "@fastify/send";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CofferError } from "../core/errors.ts";

/** Where `npm install` (the root `prepare` script) builds the UI. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../../../web/dist/", import.meta.url));

const API_PREFIXES = ["/api/", "/v1/", "/vellum/"];

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

const route = { config: { public: true }, schema: { hide: true } } as const;

/** What the build puts under assets/: flat, hashed names. Anything else (a `/`, `..`, a dotfile) is not there. */
const ASSET_NAME = /^[\w-][\w.-]*$/;

let sender: Promise<typeof import("@fastify/send").default> | undefined;

async function sendFile(request: FastifyRequest, reply: FastifyReply, file: string, root: string, options: SendOptions = {}): Promise<FastifyReply> {
  sender ??= import("@fastify/send").then((module) => module.default);
  const result = await (await sender)(request.raw, file, { ...options, root, index: false, dotfiles: "ignore" });
  if (result.type === "file") return reply.code(result.statusCode).headers(result.headers).send(result.stream);
  // A path send refuses (a directory, a dotfile, a bad range) is simply not there.
  if (result.type === "error" && result.statusCode >= 500) throw result.metadata.error;
  throw new CofferError("NOT_FOUND", "no such file");
}

export async function webRoutes(app: FastifyInstance, options: { root: string }): Promise<void> {
  const root = options.root;
  const built = existsSync(join(root, "index.html"));
  // Files beside index.html (favicon); everything else the build makes lives under assets/ with hashed names.
  const topLevel = new Set(built ? readdirSync(root, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : []);

  const page = (request: FastifyRequest, reply: FastifyReply) => {
    reply.headers(SECURITY_HEADERS);
    if (!built) {
      return reply.code(503).type("text/plain; charset=utf-8").send("The web UI is not built: run `npm run build:web` (npm install does it), then reload.\n");
    }
    reply.header("cache-control", "no-cache");
    return sendFile(request, reply, "index.html", root, { cacheControl: false });
  };

  app.get("/assets/*", route, (request, reply) => {
    const file = (request.params as { "*": string })["*"];
    if (!ASSET_NAME.test(file)) throw new CofferError("NOT_FOUND", "no such file");
    reply.headers(SECURITY_HEADERS);
    // Hashed file names: a new build makes new names, so these never go stale.
    return sendFile(request, reply, file, join(root, "assets"), { immutable: true, maxAge: "365d" });
  });
  app.get("/", route, (request, reply) => page(request, reply));
  app.get("/*", route, (request, reply) => {
    const path = request.url.split("?")[0]!;
    if (API_PREFIXES.some((prefix) => path.startsWith(prefix))) throw new CofferError("NOT_FOUND", `no route ${request.method} ${path}`);
    const file = path.slice(1);
    if (topLevel.has(file)) {
      reply.headers(SECURITY_HEADERS);
      return sendFile(request, reply, file, root);
    }
    return page(request, reply);
  });
}
