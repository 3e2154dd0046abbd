/**
 * A local stand-in for an external API, on 127.0.0.1 (HTTP, or HTTPS with a
 * throw-away certificate made by openssl): it records what it received and
 * answers by path, echoing what the relay sent when asked to.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { tempDir } from "./stores.ts";

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

export type Handler = (request: IncomingMessage, body: Buffer, response: ServerResponse) => void;

export interface Upstream {
  port: number;
  url: string;
  received: Received[];
  /** Requests and connections seen, even those cut before a body arrived. */
  connections: number;
}

export async function startUpstream(t: TestContext, handler: Handler, tls?: { key: string; cert: string }): Promise<Upstream> {
  const received: Received[] = [];
  const state: Upstream = { port: 0, url: "", received, connections: 0 };
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      received.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body });
      handler(request, body, response);
    });
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  server.on("connection", () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `${tls ? "https" : "http"}://127.0.0.1:${state.port}`;
  t.after(() => {
    server.closeAllConnections?.();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

/** Writes `text` in pieces of `size` characters, a millisecond or so apart, then ends: a value in it is split across chunks. */
export function writeInPieces(response: ServerResponse, text: string, size: number): void {
  const pieces = text.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) ?? [];
  let i = 0;
  const next = () => {
    if (i === pieces.length) return void response.end();
    response.write(pieces[i++]);
    setTimeout(next, 1);
  };
  next();
}

/** A self-signed certificate for `localhost` and 127.0.0.1; `caFile` is what NODE_EXTRA_CA_CERTS takes. */
export function testCertificate(t: TestContext): { key: string; cert: string; caFile: string } {
  const dir = tempDir("coffer-tls");
  const keyFile = join(dir, "key.pem");
  const caFile = join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", keyFile, "-out", caFile,
  ], { stdio: "ignore" });
  return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(caFile, "utf8"), caFile };
}
