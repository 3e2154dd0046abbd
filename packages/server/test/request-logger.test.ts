/**
 * A request's logger is made when the request first writes a line: the
 * lines are those a pino child would write (request id and all), and a
 * request that logs nothing at a written level makes no child at all.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { pino } from "pino";
import { requestLogger, requestLoggerOf } from "../src/http/request-logger.ts";

/** An app logging at `level` (lines kept) whose logger counts the children made of it. */
function logged(level: string, genReqId?: () => string) {
  const lines: Record<string, unknown>[] = [];
  const app: FastifyInstance = Fastify({
    logger: { level, stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
    childLoggerFactory: requestLogger,
    disableRequestLogging: true,
    ...(genReqId ? { genReqId } : {}),
  });
  let children = 0;
  // Pino's children inherit child() from the root: count every call, each on its own logger.
  const child = app.log.child;
  app.log.child = function (this: typeof app.log, ...args: Parameters<typeof child>) {
    children++;
    return child.apply(this, args);
  } as typeof child;
  return { app, lines, children: () => children };
}

test("a request's lines carry its request id, as a pino child's do", async () => {
  const { app, lines } = logged("warn", () => "req_test");
  app.get("/", async (request) => {
    request.log.info("not written at warn");
    request.log.warn({ detail: 1 }, "written");
    request.log.child({ part: "inner" }).error("from a child");
    return {};
  });
  assert.equal((await app.inject("/")).statusCode, 200);
  await app.close();
  assert.deepEqual(
    lines.map(({ reqId, msg, detail, part }) => ({ reqId, msg, detail, part })),
    [
      { reqId: "req_test", msg: "written", detail: 1, part: undefined },
      { reqId: "req_test", msg: "from a child", detail: undefined, part: "inner" },
    ],
  );
});

test("a request that writes no line makes no child logger", async () => {
  const { app, children } = logged("warn");
  app.get("/", async (request) => {
    request.log.debug("below the level");
    return {};
  });
  const before = children();
  for (let i = 0; i < 3; i++) assert.equal((await app.inject("/")).statusCode, 200);
  await app.close();
  assert.equal(children() - before, 0);
});

test("with Fastify's own logger off, a request's lines reach the server's logger with its request id, and its response is not watched for a log line", async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  /** The listeners on a response's "finish" while its handler runs. */
  const watching = async (app: FastifyInstance) => {
    let listeners = -1;
    app.get("/", async (request, reply) => {
      request.log.info("not written at warn");
      request.log.error({ detail: 2 }, "written");
      listeners = reply.raw.listenerCount("finish");
      return {};
    });
    assert.equal((await app.inject("/")).statusCode, 200);
    await app.close();
    return listeners;
  };
  const off = await watching(Fastify({ logger: false, childLoggerFactory: requestLoggerOf(logger), genReqId: () => "req_off" }));
  assert.deepEqual(
    lines.map(({ reqId, msg, detail }) => ({ reqId, msg, detail })),
    [{ reqId: "req_off", msg: "written", detail: 2 }],
  );
  const on = await watching(Fastify({ logger: { level: "warn", stream: { write: () => {} } }, childLoggerFactory: requestLogger }));
  assert.equal(on - off, 1);
});
