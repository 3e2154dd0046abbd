/**
 * The baseline of `npm run bench`: a bare Fastify app with nothing else (no
 * auth, no validation, no store), so the ratio of Coffer's throughput to this
 * one measures what Coffer's own work costs on this machine in this run.
 *
 * GET /bare/N answers a JSON body of exactly N bytes, so each Coffer route is
 * compared with a route sending as much; PUT /bare/N parses a JSON body first,
 * as a write does. GET /stream is a short server-sent-event stream (one event
 * at once, the last a few milliseconds later), the upstream of the relay's
 * time-to-first-byte figure.
 *
 * Usage: node bench/bare-server.ts
 * Prints "Listening on http://127.0.0.1:PORT" once ready.
 */
import Fastify from "fastify";

/** How long /stream holds back its last event: the first byte's time is what is measured. */
const STREAM_REST_MS = 5;
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

app.get("/stream", (_request, reply) => {
  reply.hijack();
  reply.raw.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  reply.raw.write("data: first\n\n");
  setTimeout(() => reply.raw.end("data: [DONE]\n\n"), STREAM_REST_MS);
});

const url = await app.listen({ host: "127.0.0.1", port: 0 });
console.log(`Listening on ${url}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
