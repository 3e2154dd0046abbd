/**
 * Set-up shared by the compatibility API tests: a real server with a
 * workspace member who holds no grant and a service account with a read
 * grant, built through the native API.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { client, type Reply } from "./http.ts";
import { startServer, type RunningServer } from "./server.ts";
import { STORES } from "./stores.ts";

export interface CompatWorld {
  server: RunningServer;
  url: string;
  adminToken: string;
  admin: ReturnType<typeof client>;
  /** A member of `default` with a password and no grant. */
  member: { username: string; password: string; token: string };
  /** A service account of `default` with a read grant on `shared/api`, and a token of it. */
  account: { id: string; token: string };
}

export async function must<T = any>(reply: Promise<Reply<T>>, status: number, what: string): Promise<T> {
  const { status: got, body } = await reply;
  assert.equal(got, status, `${what} answered ${got} ${JSON.stringify(body)}`);
  return body;
}

/** The embedded store: these tests are about the wire protocols, which are the same on every store. */
export async function compatWorld(t: TestContext): Promise<CompatWorld> {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  t.after(() => server.stop());
  const adminToken = server.token!;
  const admin = client(server.url, adminToken);
  const member = { username: "member-one", password: "member-password-1", token: "" };
  await must(admin("POST", "/api/v1/users", { username: member.username, password: member.password }), 201, "member user");
  await must(admin("PUT", `/api/v1/workspaces/default/members/${member.username}`, { role: "member" }), 200, "membership");
  member.token = (await must(client(server.url, null)("POST", "/api/v1/auth/login", { username: member.username, password: member.password }), 200, "member login")).token;
  await must(admin("PUT", "/api/v1/workspaces/default/secrets/shared%2Fapi", { data: { value: "shared-v1" } }), 201, "shared secret");
  const sa = await must(admin("POST", "/api/v1/workspaces/default/service-accounts", { name: "deployer" }), 201, "service account");
  await must(admin("PUT", "/api/v1/workspaces/default/secrets/shared%2Fapi/grants/sa:deployer", { level: "read" }), 200, "grant");
  const saToken = (await must(admin("POST", "/api/v1/workspaces/default/service-accounts/deployer/tokens", { name: "approle-secret-id" }), 201, "sa token")).token;
  return { server, url: server.url, adminToken, admin, member, account: { id: sa.id, token: saToken } };
}

/** The audit events of one request, read through the native API: adapters must leave the same trail. */
export async function auditOf(world: CompatWorld, requestId: string): Promise<{ action: string; outcome: string; status: number; secretName?: string; actor: { kind: string; name?: string }; userAgent: string }[]> {
  return (await must(world.admin("GET", `/api/v1/audit?requestId=${encodeURIComponent(requestId)}`), 200, "audit query")).events;
}
