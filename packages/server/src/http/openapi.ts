/**
 * The OpenAPI document (`/api/v1/openapi.json`), built from the route schemas
 * on its first request. @fastify/swagger collects routes only as they are
 * added, so it would have to be registered (and so loaded) before every
 * route, and it requires `yaml` for a YAML output Coffer never serves:
 * ~1 MiB of an idle server's heap for a document few ever fetch. Instead the
 * routes and shared schemas are noted here as they are added, and the first
 * request loads the plugin into a scratch Fastify instance holding the same
 * routes (with handlers and validation that never run), takes its document
 * and closes it.
 */
import type { FastifyInstance, RouteOptions } from "fastify";
import type { SwaggerOptions } from "@fastify/swagger";

interface Noted {
  method: RouteOptions["method"];
  url: string;
  schema: RouteOptions["schema"];
  config: RouteOptions["config"];
}

/** Call before the routes are added; the returned function gives the document (once the app is ready). */
export function openApiDocument(app: FastifyInstance, options: SwaggerOptions): () => Promise<unknown> {
  const routes: Noted[] = [];
  const instances: FastifyInstance[] = [];
  const schemas = new Map<string, unknown>();
  app.addHook("onRoute", (route) => {
    // Fastify adds a HEAD route for every GET; the document leaves them out, as the plugin does by default.
    if (route.method === "HEAD") return;
    routes.push({ method: route.method, url: route.url, schema: route.schema, config: route.config });
  });
  app.addHook("onRegister", (instance) => void instances.push(instance));
  app.addHook("onReady", (done) => {
    // Schemas added inside a plugin are that plugin's; the document holds them all.
    for (const instance of [...instances, app]) for (const [id, schema] of Object.entries(instance.getSchemas())) schemas.set(id, schema);
    instances.length = 0;
    done();
  });
  let document: Promise<unknown> | undefined;
  return () =>
    (document ??= build(routes, schemas, options).catch((error: unknown) => {
      // A failed build is tried again by the next request.
      document = undefined;
      throw error;
    }));
}

async function build(routes: Noted[], schemas: Map<string, unknown>, options: SwaggerOptions): Promise<unknown> {
  const [{ default: Fastify }, { default: swagger }] = await Promise.all([import("fastify"), import("@fastify/swagger")]);
  const scratch = Fastify({ exposeHeadRoutes: false });
  scratch.setValidatorCompiler(() => () => true);
  scratch.setSerializerCompiler(() => (data) => JSON.stringify(data));
  for (const schema of schemas.values()) scratch.addSchema(schema);
  await scratch.register(swagger, options);
  for (const route of routes) scratch.route({ ...route, handler: () => undefined });
  await scratch.ready();
  try {
    return scratch.swagger();
  } finally {
    await scratch.close();
  }
}
