/**
 * Errors raised before an API's handler runs (Node's parser, Fastify's
 * router and body parser) answer in the shape of the API the URL names:
 * `{"error": {code, message, requestId}}` natively, `{"errors": [...]}` on
 * Vault's /v1, `{"detail", "code"}` on /vellum; never Fastify's or Node's
 * own body, and nothing is changed. Sent over a raw socket, byte for byte.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { compatWorld, must } from "./support/compat.ts";

/** One request over its own connection; the status and the parsed JSON body. */
function rawRequest(url: string, head: string, body = ""): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), "127.0.0.1");
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString("utf8")));
    socket.on("error", () => undefined); // the server closes after refusing; what it sent is what counts
    socket.on("close", () => {
      const [status = "", payload = ""] = [text.slice(9, 12), text.split("\r\n\r\n").slice(1).join("\r\n\r\n")];
      try {
        resolve({ status: Number(status), body: payload === "" ? null : JSON.parse(payload) });
      } catch (error) {
        reject(new Error(`not JSON: ${text.slice(0, 300)} (${error})`));
      }
    });
    socket.write(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${body === "" ? "" : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`);
  });
}

const APIS = [
  { name: "native", base: "/api/v1/workspaces/default/secrets/", auth: "Authorization: Bearer", code: (body: any) => body.error.code, message: (body: any) => body.error.message },
  { name: "Vault", base: "/v1/secret/data/", auth: "X-Vault-Token:", code: () => undefined, message: (body: any) => body.errors[0] },
  { name: "Vellum", base: "/vellum/v1/workspace-secrets/", auth: "X-API-KEY:", code: (body: any) => body.code, message: (body: any) => body.detail },
] as const;

test("a too-long URL, too-large headers, a malformed URL, an over-long segment and a __proto__ key answer in each API's own shape and change nothing", async (t) => {
  const world = await compatWorld(t);
  const huge = "a".repeat(20_000);
  for (const api of APIS) {
    const auth = `${api.auth} ${world.adminToken}`;
    const cases = [
      ["a 20 KB URL", `GET ${api.base}${huge} HTTP/1.1\r\n${auth}`, "", 414, "URI_TOO_LONG", /URL is too long/],
      ["20 KB of headers", `GET ${api.base}x HTTP/1.1\r\n${auth}\r\nX-Padding: ${huge}`, "", 431, "HEADERS_TOO_LARGE", /headers are too large/],
      ["a bad percent-encoding", `GET ${api.base}%zz HTTP/1.1\r\n${auth}`, "", 400, "INVALID_REQUEST", /malformed/],
      ["a segment over 1024 characters", `PUT ${api.base}${"b".repeat(2000)} HTTP/1.1\r\n${auth}`, '{"data":{"v":"x"}}', null, null, null],
      ["a __proto__ key", `PUT ${api.base}proto HTTP/1.1\r\n${auth}`, '{"data":{"__proto__":{"polluted":"yes"}},"value":"x"}', 400, "INVALID_REQUEST", /"__proto__"/],
      ["broken JSON", `PUT ${api.base}proto HTTP/1.1\r\n${auth}`, '{"data":', 400, "INVALID_REQUEST", /not valid JSON/],
    ] as const;
    for (const [what, head, body, status, code, message] of cases) {
      const reply = await rawRequest(world.url, head, body);
      assert.ok(reply.body !== null && typeof reply.body === "object", `${api.name}, ${what}: a JSON body`);
      assert.equal(reply.body.statusCode, undefined, `${api.name}, ${what}: not Fastify's body`);
      assert.equal(JSON.stringify(reply.body).includes("FST_"), false, `${api.name}, ${what}: no Fastify code`);
      if (api.name === "native") assert.match(reply.body.error.requestId, /^req_/, `${what}: the request id`);
      if (api.name === "Vault") assert.ok(Array.isArray(reply.body.errors), `Vault, ${what}: {"errors": [...]}`);
      if (status === null) continue;
      assert.equal(reply.status, status, `${api.name}, ${what}: ${JSON.stringify(reply.body).slice(0, 200)}`);
      if (api.name !== "Vault") assert.equal(api.code(reply.body), code, `${api.name}, ${what}`);
      assert.match(api.message(reply.body), message!, `${api.name}, ${what}`);
    }
  }
  // An over-long segment is the router's URI_TOO_LONG natively; under /v1 the path is the secret's name, refused by the name rule.
  const segment = await rawRequest(world.url, `PUT /api/v1/workspaces/default/secrets/${"b".repeat(2000)} HTTP/1.1\r\nAuthorization: Bearer ${world.adminToken}`, '{"data":{"v":"x"}}');
  assert.deepEqual([segment.status, segment.body.error.code], [414, "URI_TOO_LONG"]);
  // Nothing was written by any of it.
  const names = (await must(world.admin("GET", "/api/v1/workspaces/default/secrets?recursive=true"), 200, "list")).items.map((item: { name: string }) => item.name);
  assert.deepEqual(names, ["shared/api"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
