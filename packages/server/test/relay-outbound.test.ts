/**
 * The relay's outbound connections are kept alive and reused: what an
 * answer hangs on its socket must go with the answer, or every reuse adds
 * one more listener (a leak the size of the traffic; Node warns past 10).
 * A name resolved a moment ago is reused, but never unchecked.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import { test, type TestContext } from "node:test";
import { CofferError } from "../src/core/errors.ts";
import { Outbound } from "../src/relay/outbound.ts";

/** An upstream on a free port and an Outbound to reach it, both closed when the test ends; `port` for the URL. */
async function upstream(t: TestContext, handler: http.RequestListener): Promise<{ outbound: Outbound; port: number }> {
  const server = http.createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const outbound = new Outbound();
  t.after(() => {
    outbound.close();
    server.close();
  });
  return { outbound, port: (server.address() as { port: number }).port };
}

test("answers over one kept-alive upstream connection leave no listener behind on it", async (t) => {
  const connections = new Set<unknown>();
  const { outbound, port } = await upstream(t, (request, response) => {
    connections.add(request.socket);
    response.end("ok");
  });
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));
  const url = new URL(`http://127.0.0.1:${port}/`);
  for (let i = 0; i < 30; i++) {
    // Every other answer is small enough to be read whole, the rest come as streams: neither may leave anything behind.
    const wholeUpTo = i % 2 === 0 ? 0 : 1024;
    const answer = await outbound.send({ url, method: "GET", headers: {}, body: undefined, wholeUpTo }, { timeoutMs: 5000, destination: () => {}, address: () => {} });
    assert.equal(Buffer.isBuffer(answer.body), wholeUpTo > 0);
    assert.equal((Buffer.isBuffer(answer.body) ? answer.body : Buffer.concat(await answer.body.toArray())).toString(), "ok");
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(connections.size, 1, "every call went over the one kept-alive connection");
  assert.deepEqual(warnings, [], "no listener piled up on the reused socket");
});

test("a name resolved a moment ago is reused, and its addresses are still checked on every call", async (t) => {
  const { outbound, port } = await upstream(t, (_request, response) => response.end("ok"));
  const url = new URL(`http://localhost:${port}/`);
  const checked: string[] = [];
  const send = (refuse: boolean) =>
    outbound.send({ url, method: "GET", headers: {}, body: undefined }, {
      timeoutMs: 5000,
      destination: () => {},
      address: (host, address) => {
        checked.push(`${host} ${address}`);
        if (refuse) throw new Error(`refused ${address}`);
      },
    });
  // The resolver may list ::1 first: the pool then fails to connect, which this test does not ask about; the checks are what count.
  await send(false).then((answer) => (Buffer.isBuffer(answer.body) ? undefined : answer.body.resume()), () => {});
  const first = checked.length;
  assert.ok(first > 0, "the first call checked the addresses it resolved");
  await assert.rejects(send(true), /refused/, "a call that reuses the resolved name still has its addresses checked");
  assert.ok(checked.length > first);
});

test("a small answer cut short of its declared length fails as the upstream's error, never as the network library's", async (t) => {
  const { outbound, port } = await upstream(t, (_request, response) => {
    response.writeHead(200, { "content-length": "100" });
    response.write("only part");
    setTimeout(() => response.socket?.destroy(), 20);
  });
  const url = new URL(`http://127.0.0.1:${port}/`);
  await assert.rejects(
    outbound.send({ url, method: "GET", headers: {}, body: undefined, wholeUpTo: 1024 }, { timeoutMs: 5000, destination: () => {}, address: () => {} }),
    (error: Error & { code?: string }) => error instanceof CofferError && error.code === "UPSTREAM_ERROR",
  );
});
