/**
 * Errors raised before any API's plugin runs, answered in the shape of the
 * API the URL names (native, Vault's `/v1`, Vellum's `/vellum`), never in
 * Fastify's or Node's own: a URL or headers larger than Node's parser reads
 * (414, 431), a request that is not HTTP (400), a malformed percent-encoding
 * or a path segment over the router's limit. Nothing is changed by any.
 */
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { CofferError } from "../core/errors.ts";
import { nativeErrorShape, sendError, type ErrorShape } from "./errors.ts";

// Not `import ... from "node:http"`: an ES import reads every export, and http's lazy
// WebSocket export then loads Node's internal undici (~3 MiB the server never uses).
const { STATUS_CODES } = process.getBuiltinModule("node:http");

/** Each compatibility API's URL prefix and error shape; every other URL is the native API's. */
export type ErrorShapes = readonly (readonly [prefix: string, shape: ErrorShape])[];

interface ParseError extends Error {
  code?: string;
  rawPacket?: Buffer;
}

type HttpSocket = Duplex & { _httpMessage?: { _headerSent?: boolean } | null };

/** `GET /target HTTP/1.1` at the start of what the parser last read: the target, and whether the line was complete. */
const REQUEST_LINE = /^[A-Z]+ (\S+)( HTTP\/\d\.\d\r?\n)?/;
/** A URL this long is what overflowed the header section (which is at most 16 KiB), not the headers after it. */
const LONG_URL = 8 * 1024;
/** Enough of the packet to hold a request line the parser refused (it stops at about 16 KiB). */
const LINE_BYTES = 64 * 1024;

export function shapeOf(shapes: ErrorShapes, url: string): ErrorShape {
  for (const [prefix, shape] of shapes) if (url === prefix || url.startsWith(`${prefix}/`)) return shape;
  return nativeErrorShape;
}

/** Fastify's frameworkErrors: the router's errors, through the same shapes. */
export function frameworkErrorHandler(shapes: ErrorShapes) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const coffer =
      error.code === "FST_ERR_MAX_PARAM_LENGTH"
        ? new CofferError("URI_TOO_LONG", "a segment of the URL is longer than 1024 characters")
        : new CofferError("INVALID_REQUEST", "the URL is malformed (a bad percent-encoding)");
    sendError(reply, request, coffer, shapeOf(shapes, request.url));
  };
}

/** Answers a client error Node's parser raised (after list-verb.ts took LIST's), then closes the connection. */
export function answerClientError(failure: Error, socket: Duplex, shapes: ErrorShapes, requestId: () => string): void {
  const error = failure as ParseError;
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable && !(socket as HttpSocket)._httpMessage?._headerSent) socket.write(clientErrorResponse(error, shapes, requestId));
  socket.destroy(error);
}

function clientErrorResponse(error: ParseError, shapes: ErrorShapes, requestId: () => string): string {
  // A request that never finished its headers in time: Node's own answer, there is no API to speak for.
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return `HTTP/1.1 408 ${STATUS_CODES[408]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
  const line = REQUEST_LINE.exec(error.rawPacket?.subarray(0, LINE_BYTES).toString("latin1") ?? "");
  const coffer =
    error.code !== "HPE_HEADER_OVERFLOW"
      ? new CofferError("INVALID_REQUEST", "the request is not valid HTTP/1.1")
      : line && (!line[2] || line[1]!.length >= LONG_URL)
        ? new CofferError("URI_TOO_LONG", "the URL is too long: the request line and headers may be at most 16 KiB")
        : new CofferError("HEADERS_TOO_LARGE", "the request headers are too large: at most 16 KiB in all");
  const { status, body } = shapeOf(shapes, line?.[1] ?? "")(coffer, requestId());
  const json = JSON.stringify(body);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}
