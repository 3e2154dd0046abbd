/**
 * The baseline of `npm run bench`: a bare Fastify app with nothing else (no
 * auth, no validation, no store), so the ratio of Coffer's throughput to this
 * one measures what Coffer's own work costs on this machine in this run.
 *
 * GET /bare/N answers a JSON body of exactly N bytes, so each Coffer route is
 * compared with a route sending as much; PUT /bare/N parses a JSON body first,
 * as a write does.
 *
 * Usage: node bench/bare-server.ts
 * Prints "Listening on http://127.0.0.1:PORT" once ready.
 */
import Fastify from "fastify";

const bodies = new Map<number, { value: string }>();

/** A JSON object that serialises to exactly `size` bytes (at least 12), made once per size. */
function bodyOfSize(size: number): { value: string } {
  let body = bodies.get(size);
  if (!body) {
    const overhead = JSON.stringify({ value: "" }).length;
    body = { value: "x".repeat(Math.max(0, size - overhead)) };
    bodies.set(size, body);
  }
  return body;
}

// No logger: Coffer disables per-request logging too (see http/app.ts).
const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
app.route<{ Params: { bytes: string } }>({
  method: ["GET", "PUT"],
  url: "/bare/:bytes",
  handler: async (request) => bodyOfSize(Number(request.params.bytes)),
});

const url = await app.listen({ host: "127.0.0.1", port: 0 });
console.log(`Listening on ${url}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
