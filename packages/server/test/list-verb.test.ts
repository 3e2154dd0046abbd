/**
 * The LIST hand-off on its own, with Node's timeouts made short: a
 * connection that sent LIST stays open past headersTimeout (Node still counts
 * the refused parse as a request whose headers never came), and its later
 * requests are answered.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { answerClientError } from "../src/http/framework-errors.ts";
import { tookListVerb } from "../src/http/list-verb.ts";

test("a connection that sent LIST outlives headersTimeout and keeps answering", async (t) => {
  const app = Fastify({
    http: { connectionsCheckingInterval: 100, headersTimeout: 300, requestTimeout: 0 } as never,
    clientErrorHandler(this: FastifyInstance, error, socket) {
      if (!tookListVerb(this.server, error, socket)) answerClientError(error, socket, [], () => "req_test");
    },
  });
  app.get("/x", async (request) => ({ url: request.url }));
  const url = new URL(await app.listen({ host: "127.0.0.1", port: 0 }));
  t.after(() => app.close());

  const socket = connect(Number(url.port), "127.0.0.1");
  t.after(() => socket.destroy());
  const lines: string[] = [];
  socket.on("data", (chunk) => lines.push(...chunk.toString().split("\r\n").filter((line) => line.startsWith("HTTP/1.1") || line.startsWith("{"))));
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  socket.write("LIST /x HTTP/1.1\r\nHost: a\r\n\r\n");
  await wait(1000);
  socket.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  await wait(300);
  assert.deepEqual(lines, ["HTTP/1.1 200 OK", '{"url":"/x?list=true"}', "HTTP/1.1 200 OK", '{"url":"/x"}']);
  socket.end();
  await closed;
});
