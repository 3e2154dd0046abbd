/**
 * SIGTERM drains a real `coffer server` process: its health check fails at
 * once (with the reasons a balancer reads), requests keep being served for
 * --drain-seconds with `Connection: close`, a request in flight when the
 * listener closes still gets its answer, then the process exits cleanly.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { client, secretsPath } from "./support/http.ts";
import { startServer } from "./support/server.ts";
import { STORES } from "./support/stores.ts";

/** One raw HTTP/1.1 connection: what a balancer's pooled connection looks like. */
async function rawConnection(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let data = "";
  socket.on("data", (chunk) => (data += chunk));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, received: () => data, closed };
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const store = STORES[0]!;
test(`SIGTERM drains: health fails with draining, keep-alive connections are closed, a request in flight finishes, the process exits (${store.kind})`, async (t) => {
  const target = await store.open(t);
  if (!target) return;
  const server = await startServer(t, target, { COFFER_DRAIN_SECONDS: "1", COFFER_SHUTDOWN_GRACE_SECONDS: "10" });
  const api = client(server.url, server.token);
  assert.equal((await api("POST", secretsPath("default"), { name: "drain/db", data: { password: "pw-1" } })).status, 201);

  // A kept-alive connection, used once before the signal.
  const pooled = await rawConnection(server.url);
  const get = `GET /api/v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`;
  pooled.socket.write(get);
  await until(() => /\r\n\r\n\{.*\}$/s.test(pooled.received()), "the first answer on the pooled connection");
  assert.match(pooled.received(), /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(pooled.received(), /connection: close/i);

  // A write whose body has not all arrived yet: in flight across the whole drain.
  const body = JSON.stringify({ data: { password: "pw-2" } });
  const inFlight = await rawConnection(server.url);
  inFlight.socket.write(
    `PUT ${secretsPath("default", "drain/db")} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
  );

  server.process.kill("SIGTERM");
  await until(() => /draining/.test(server.output()), "the server to start draining");

  // While it drains it still serves, but its health says why a balancer must stop sending it work.
  const health = await client(server.url, null)("GET", "/api/v1/sys/health");
  assert.equal(health.status, 503);
  assert.deepEqual({ ...health.body, version: undefined }, { status: "unavailable", ready: false, store: "ok", sealed: false, draining: true, version: undefined });
  const read = await api("GET", secretsPath("default", "drain/db"));
  assert.equal(read.status, 200, "requests are still served during the drain");
  assert.equal(read.headers.get("connection"), "close", "and each answer asks the client to reconnect elsewhere");

  // The pooled connection's next answer closes it.
  pooled.socket.write(get);
  await pooled.closed;
  assert.match(pooled.received().split("HTTP/1.1 ").at(-1)!, /^503 [\s\S]*connection: close/i);

  // Past the drain the listener is gone; the request in flight still completes.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await assert.rejects(fetch(`${server.url}/api/v1/sys/health`), "no new connection is accepted after the drain");
  inFlight.socket.write(body.slice(5));
  await inFlight.closed;
  assert.match(inFlight.received(), /^HTTP\/1\.1 200 /, inFlight.received());
  assert.match(inFlight.received(), /"version":2/);

  if (server.process.exitCode === null && server.process.signalCode === null) await once(server.process, "exit");
  assert.equal(server.process.exitCode, 0, server.output());
});
