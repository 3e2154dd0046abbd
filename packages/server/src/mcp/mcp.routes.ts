/**
 * `/mcp`: Coffer's agent tools over MCP's Streamable HTTP transport, for
 * agents that reach the server over the network (docs/mcp.md). Stateless: each
 * POST carries its JSON-RPC message(s) and gets a JSON answer, so any node of
 * a cluster can answer any request and no session is kept.
 *
 * Each tool is a call of the REST API made in-process (Fastify's inject) with
 * the caller's own bearer token: the permission checks, rate limits and
 * audit events are the REST routes' own, not a second copy that could drift.
 * The token comes only from the Authorization header (never the UI's session
 * cookie, so no cross-site request can drive the tools).
 *
 * The MCP stack (the SDK, zod, Coffer's client SDK) is loaded on the first
 * request, not at start: it is a fifth of the server's heap (~12 MiB) and
 * most servers never answer an MCP call.
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { bearerToken } from "../http/auth.ts";
import { noteTarget } from "../http/audit.ts";
import { errorResponses } from "../http/schemas.ts";

/** The SDK needs an address; in-process calls never use its host. */
const IN_PROCESS = "http://coffer.in-process";
const DEFAULT_WORKSPACE = "default";
/** What the audit subject may quote of a JSON-RPC message: a method and a tool name, nothing the caller typed freely. */
const RPC_NAME = /^[A-Za-z0-9_.\/-]{1,64}$/;

export const mcpRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const tokenOf = (request: FastifyRequest) => bearerToken(request.headers.authorization);

  app.post("/mcp", {
    config: { audit: "mcp.request", token: tokenOf },
    schema: {
      tags: ["mcp"],
      summary: "The Model Context Protocol endpoint (Streamable HTTP, stateless, JSON answers): tools that use secrets and never return one; docs/mcp.md",
      querystring: Type.Object({ workspace: Type.Optional(Type.String({ description: "The workspace the tools act in; default 'default'" })) }),
      body: Type.Unknown({ description: "A JSON-RPC message or batch, as MCP defines it" }),
      response: { 200: Type.Unknown({ description: "The JSON-RPC answer" }), 202: Type.Null({ description: "A notification was accepted" }), ...errorResponses },
    },
    handler: async (request, reply) => {
      noteTarget(request, { subject: subjectOf(request.body) });
      const { Coffer, createMcpServer, WebStandardStreamableHTTPServerTransport } = await mcpStack();
      const coffer = new Coffer({
        addr: IN_PROCESS,
        token: tokenOf(request) ?? "",
        workspace: request.query.workspace ?? DEFAULT_WORKSPACE,
        fetch: inProcessFetch(app, request),
        attribution: { tool: "mcp" },
      });
      const server = createMcpServer(coffer);
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      try {
        await server.connect(transport);
        const answer = await transport.handleRequest(webRequestOf(request), { parsedBody: request.body });
        const body = Buffer.from(await answer.arrayBuffer());
        reply.code(answer.status);
        answer.headers.forEach((value, name) => void reply.header(name, value));
        return reply.send(body.length > 0 ? body : undefined);
      } finally {
        await server.close();
      }
    },
  });

  // Stateless: no stream to open with GET and no session to end with DELETE. MCP clients take 405 as "not offered".
  for (const method of ["GET", "DELETE"] as const) {
    app.route({
      method,
      url: "/mcp",
      config: { audit: "mcp.request", token: tokenOf },
      schema: { hide: true },
      handler: async (_request, reply) => reply.code(405).header("allow", "POST").send(),
    });
  }
};

/** The modules an MCP call needs, imported once, on first use. */
let loading: Promise<typeof import("@coffer/sdk") & typeof import("@coffer/mcp") & typeof import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js")> | undefined;

function mcpStack() {
  loading ??= Promise.all([import("@coffer/sdk"), import("@coffer/mcp"), import("@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js")]).then(
    ([sdk, mcp, transport]) => ({ ...sdk, ...mcp, ...transport }),
    (error: unknown) => {
      loading = undefined; // tried again by the next call
      throw error;
    },
  );
  return loading;
}

/** `tools/call relay_request`, `tools/list`, … for the audit log; a batch names its messages' methods. */
function subjectOf(body: unknown): string | undefined {
  const messages = Array.isArray(body) ? body : [body];
  const names = messages.flatMap((message) => {
    const { method, params } = (message ?? {}) as { method?: unknown; params?: { name?: unknown } };
    if (typeof method !== "string" || !RPC_NAME.test(method)) return [];
    const tool = params?.name;
    return [method === "tools/call" && typeof tool === "string" && RPC_NAME.test(tool) ? `${method} ${tool}` : method];
  });
  return names.length > 0 ? names.slice(0, 10).join(", ") : undefined;
}

/** The Fastify request as the transport's web Request (its body is handed over already parsed). */
function webRequestOf(request: FastifyRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return new Request(`${IN_PROCESS}${request.url}`, { method: request.method, headers });
}

/** A fetch that runs the REST routes in this process, as the calling client (its address and user agent). */
function inProcessFetch(app: FastifyInstance, caller: FastifyRequest): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => (headers[name] = value));
    const userAgent = caller.headers["user-agent"];
    if (userAgent) headers["user-agent"] = userAgent;
    const answer = await app.inject({
      method: (init.method ?? "GET") as "GET",
      url: url.pathname + url.search,
      headers,
      remoteAddress: caller.ip,
      ...(typeof init.body === "string" ? { payload: init.body } : {}),
    });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(name, String(one));
    }
    const empty = answer.statusCode === 204 || answer.statusCode === 304;
    return new Response(empty ? null : answer.rawPayload, { status: answer.statusCode, headers: responseHeaders });
  }) as typeof fetch;
}
