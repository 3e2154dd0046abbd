/**
 * The relay's outbound connections are kept alive and reused: what an
 * answer hangs on its socket must go with the answer, or every reuse adds
 * one more listener (a leak the size of the traffic; Node warns past 10).
 * A name resolved a moment ago is reused, but never unchecked.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import { test } from "node:test";
import { Outbound } from "../src/relay/outbound.ts";

test("answers over one kept-alive upstream connection leave no listener behind on it", async (t) => {
  const connections = new Set<unknown>();
  const server = http.createServer((request, response) => {
    connections.add(request.socket);
    response.end("ok");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const outbound = new Outbound();
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on("warning", onWarning);
  t.after(() => {
    process.off("warning", onWarning);
    outbound.close();
    server.close();
  });
  const url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
  for (let i = 0; i < 30; i++) {
    const answer = await outbound.send({ url, method: "GET", headers: {}, body: undefined }, { timeoutMs: 5000, destination: () => {}, address: () => {} });
    assert.equal(Buffer.concat(await answer.body.toArray()).toString(), "ok");
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(connections.size, 1, "every call went over the one kept-alive connection");
  assert.deepEqual(warnings, [], "no listener piled up on the reused socket");
});

test("a name resolved a moment ago is reused, and its addresses are still checked on every call", async (t) => {
  const server = http.createServer((_request, response) => response.end("ok"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const outbound = new Outbound();
  t.after(() => {
    outbound.close();
    server.close();
  });
  const url = new URL(`http://localhost:${(server.address() as { port: number }).port}/`);
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
  await send(false).then((answer) => answer.body.resume(), () => {});
  const first = checked.length;
  assert.ok(first > 0, "the first call checked the addresses it resolved");
  await assert.rejects(send(true), /refused/, "a call that reuses the resolved name still has its addresses checked");
  assert.ok(checked.length > first);
});
