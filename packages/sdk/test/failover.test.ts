/**
 * Failover between several node addresses, against a real server and two
 * kinds of dead node: a closed port (nothing is ever sent) and a node that
 * takes the request and then drops the connection (the request may have run).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { test, type TestContext } from "node:test";
import { COFFER_BIN, startServer } from "../../server/test/support/server.ts";
import { STORES, tempDir } from "../../server/test/support/stores.ts";
import { Coffer, parseAddrs } from "../src/index.ts";

async function closedPort(): Promise<string> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** A node that reads a request and drops the connection before answering; counts what it was sent. */
async function droppingNode(t: TestContext): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once("data", (chunk) => {
      requests.push(chunk.toString("latin1").split("\r\n")[0]!);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

test("addresses are a list or comma-separated, trailing slashes dropped", () => {
  assert.deepEqual(parseAddrs("http://a:8200/, http://b:8200"), ["http://a:8200", "http://b:8200"]);
  assert.deepEqual(parseAddrs(["http://a:8200"]), ["http://a:8200"]);
  assert.throws(() => parseAddrs(" , "), /no server address/);
});

test("the SDK fails over: any call past a node that refuses connections, only calls safe to repeat past one that dropped a request", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const refused = await closedPort();
  const dropping = await droppingNode(t);

  const viaRefused = new Coffer({ addr: `${refused},${server.url}`, token: server.token!, workspace: "default" });
  const created = await viaRefused.secrets.create("db", { password: "pw-1" });
  assert.equal(created.version, 1, "a POST moves on when the connection was refused: nothing was sent");
  assert.equal(viaRefused.addr, server.url, "and later calls go to the node that answered");

  const viaDropping = () => new Coffer({ addr: [dropping.url, server.url], token: server.token!, workspace: "default" });
  assert.equal((await viaDropping().secrets.get("db")).data.password, "pw-1", "a GET moves on after a dropped connection");
  assert.equal((await viaDropping().secrets.update("db", { password: "pw-2" })).version, 2, "so does a PUT (idempotent)");
  assert.equal((await viaDropping().secrets.getMany(["db"]))[0]!.data.password, "pw-2", "and a batch read sent as POST");
  const before = dropping.requests.length;
  await assert.rejects(viaDropping().secrets.create("other", { v: "1" }), (error: Error) => {
    assert.ok(!(error as { code?: string }).code?.startsWith("SECRET"), String(error));
    return true;
  }, "a POST that reached a node is never sent again elsewhere");
  assert.equal(dropping.requests.length, before + 1);
  assert.match(dropping.requests.at(-1)!, /^POST /);
  assert.equal((await new Coffer({ addr: server.url, token: server.token!, workspace: "default" }).secrets.list()).length, 1, "'other' was not created on the live node");

  await assert.rejects(new Coffer({ addr: [refused, refused], token: "x" }).secrets.list(), /fetch failed/, "every node down: the last error");
});

test("the CLI takes several addresses in COFFER_ADDR and skips a dead one", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const refused = await closedPort();
  const env = { ...process.env, COFFER_ADDR: `${refused},${server.url}`, COFFER_TOKEN: server.token!, COFFER_CONFIG_DIR: tempDir() };
  const run = (...args: string[]) => spawnSync(process.execPath, [COFFER_BIN, ...args], { env, encoding: "utf8" });
  const set = spawnSync(process.execPath, [COFFER_BIN, "secrets", "set", "k"], { env, input: "v-1", encoding: "utf8" });
  assert.equal(set.status, 0, set.stderr);
  const got = run("secrets", "get", "k", "value");
  assert.equal(got.status, 0, got.stderr);
  assert.equal(got.stdout.trim(), "v-1");
});
