/**
 * The baseline of `npm run bench`: a bare Fastify app with one GET route and
 * nothing else (no auth, no validation, no store), so the ratio of Coffer's
 * throughput to this one measures what Coffer's own work costs on this
 * machine in this run.
 *
 * Usage: node bench/bare-server.ts <body bytes>
 * Prints "Listening on http://127.0.0.1:PORT" once ready.
 */
import Fastify from "fastify";

const bytes = Number(process.argv[2]);
if (!Number.isInteger(bytes) || bytes < 20) {
  console.error("usage: node bench/bare-server.ts <body bytes, at least 20>");
  process.exit(2);
}

/**
 * A JSON object that serialises to exactly `bytes` bytes, so the bare route
 * sends as much as Coffer's read response does and the comparison is about
 * work per request, not bytes on the wire.
 */
function bodyOfSize(size: number): { value: string } {
  const overhead = JSON.stringify({ value: "" }).length;
  const body = { value: "x".repeat(size - overhead) };
  if (Buffer.byteLength(JSON.stringify(body)) !== size) throw new Error(`body is not ${size} bytes`);
  return body;
}

const body = bodyOfSize(bytes);
// No logger: Coffer disables per-request logging too (see http/app.ts).
const app = Fastify({ logger: false });
app.get("/bare", async () => body);

const url = await app.listen({ host: "127.0.0.1", port: 0 });
console.log(`Listening on ${url}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
