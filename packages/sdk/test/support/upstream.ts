/**
 * A local stand-in for an external API, on 127.0.0.1, for the relay's client
 * tests. It echoes the credential it received (plainly and in base64), so a
 * test can prove the upstream got the real value while the caller sees only
 * the placeholder.
 *
 *   /echo         200 JSON: method, url, the Authorization header, its base64, the body
 *   /stream       an SSE stream: one event, then (after release()) the credential, then the end
 *   /status/NNN   that status, with a short text body
 *   /binary       the 256 byte values, application/octet-stream
 */
import { createServer, type IncomingMessage } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface Upstream {
  url: string;
  port: number;
  /** Every request that reached it, in order. */
  received: Received[];
  /** Lets the waiting /stream answers finish. */
  release(): void;
}

export async function startUpstream(t: TestContext): Promise<Upstream> {
  const received: Received[] = [];
  let release!: () => void;
  let released = new Promise<void>((resolve) => (release = resolve));
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    received.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body });
    const authorization = request.headers.authorization ?? "";
    const path = new URL(request.url ?? "/", "http://upstream").pathname;
    if (path === "/stream") {
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      response.write("data: first\n\n");
      await released;
      response.write(`data: ${authorization}\n\n`);
      response.end("data: [DONE]\n\n");
      return;
    }
    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) {
      response.writeHead(Number(status[1]), { "content-type": "text/plain" });
      response.end(`upstream says ${status[1]}`);
      return;
    }
    if (path === "/binary") {
      response.writeHead(200, { "content-type": "application/octet-stream" });
      response.end(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
      return;
    }
    response.writeHead(200, { "content-type": "application/json", "x-echo-authorization": authorization });
    response.end(JSON.stringify({ method: request.method, url: request.url, authorization, base64: Buffer.from(authorization).toString("base64"), body }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    release();
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    release: () => {
      release();
      released = new Promise<void>((resolve) => (release = resolve));
    },
  };
}

/** The policy the client tests give their secrets: this upstream only, over plain HTTP on its port. */
export function upstreamPolicy(upstream: Upstream) {
  return { hosts: ["127.0.0.1"], schemes: ["http"], ports: [upstream.port], headers: ["Authorization"], query: ["key"], body: true, addresses: ["127.0.0.1"] };
}
