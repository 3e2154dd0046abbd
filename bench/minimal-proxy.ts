/**
 * The relay's ceiling in `npm run bench`: the least a Node proxy can do per
 * call, with none of Coffer's work (no token, no checks, no value put in,
 * no redaction, no audit). A node:http server forwards each request to the
 * upstream through an undici pool, as the relay does, and answers with the
 * upstream's body read whole. On a machine whose cores the load generator
 * and the upstream share, its share of the direct figure is as high as any
 * relay's can be.
 *
 * Usage: node bench/minimal-proxy.ts UPSTREAM_URL
 * Forwards /relay/{ws}/{route}/PATH to UPSTREAM_URL/PATH; prints "Listening on http://127.0.0.1:PORT".
 */
import http from "node:http";
import { Pool } from "undici";

/** `/relay/{ws}/{route}` before the forwarded path, as in Coffer's route. */
const PREFIX_SEGMENTS = 4;
/** Describe the hop or a body this proxy re-frames: not passed on. */
const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "host"]);

const pool = new Pool(process.argv[2]!, { connections: 256 });

function forwardedPath(url: string): string {
  let slash = 0;
  for (let i = 0; i < PREFIX_SEGMENTS && slash >= 0; i++) slash = url.indexOf("/", slash + (i === 0 ? 0 : 1));
  return slash < 0 ? "/" : url.slice(slash);
}

function passed(headers: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP.has(name)) out[name] = value;
  return out;
}

const server = http.createServer(async (request, response) => {
  try {
    const answer = await pool.request({ path: forwardedPath(request.url!), method: request.method as "GET", headers: passed(request.headers) });
    const body = Buffer.from(await answer.body.arrayBuffer());
    response.writeHead(answer.statusCode, { ...passed(answer.headers as http.IncomingHttpHeaders), "content-length": String(body.length) });
    response.end(body);
  } catch {
    response.writeHead(502).end();
  }
});
server.listen(0, "127.0.0.1", () => console.log(`Listening on http://127.0.0.1:${(server.address() as { port: number }).port}`));

for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(0));
