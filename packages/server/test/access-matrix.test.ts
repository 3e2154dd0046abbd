/**
 * The access matrix: every operation of the OpenAPI document × every kind of
 * caller, with the answer each must get, in ONE table. A route added without
 * its row (or a row left behind by a removed route) fails the first test, so
 * nobody can ship a route whose permissions nobody wrote down.
 *
 * Each role runs against fixtures of its own (two fresh workspaces, users,
 * groups, a service account, grants), built through the real API by the
 * bootstrap administrator. Rows that destroy something get a fresh victim
 * from `before`, or put the fixture back in `after`; a call that ends the
 * caller's own token (logout) gets a fresh token of the same role. Every
 * refused call that would change something is also checked to have changed
 * nothing.
 */
import type { ErrorCode } from "@coffer/protocol";
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import type { FastifyInstance } from "fastify";
import { openCoffer, type Coffer } from "../src/coffer.ts";
import { outcomeOf } from "../src/audit/audit.types.ts";
import { buildApp } from "../src/http/app.ts";
import { formsOf } from "../src/relay/redaction.ts";
import { STORES, tempDir, type StoreKind } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { startUpstream } from "./support/upstream.ts";

// ---------------------------------------------------------------- roles

const ROLES = [
  "owner", //         a non-admin user with role owner
  "admin", //         a user with role admin
  "granted", //       a member with a direct read grant on the target secret
  "ungranted", //     a member without any grant
  "grouped", //       a member of a group holding a read grant on the target
  "viewer", //        a user with role viewer
  "service", //       a service account granted read, its token bound to the target's name at read
  "expired", //       an instance administrator's token, expired
  "revoked", //       an instance administrator's token, revoked
  "outsider", //      the admin of another workspace only
  "instanceAdmin", // an instance administrator's full token (the column that says who CAN do the administrative routes)
] as const;
type Role = (typeof ROLES)[number];
const USER_ROLES = ["owner", "admin", "granted", "ungranted", "grouped", "viewer", "outsider"] as const;
type UserRole = (typeof USER_ROLES)[number];

// ---------------------------------------------------------------- expectations

/** 200 and the target secret among the items. */
const LISTED = "200 listed";
/** 200 and the target secret not among the items. */
const UNLISTED = "200 unlisted";
type Expect = 200 | 201 | 202 | 204 | typeof LISTED | typeof UNLISTED | `${400 | 401 | 403 | 404} ${ErrorCode}`;

const U = "401 UNAUTHENTICATED" as const;
/** Refused for what it asks, not for who asks: the seal routes of a key-file server (seal.test.ts covers Shamir). */
const I = "400 INVALID_REQUEST" as const;
const D = "403 ACCESS_DENIED" as const;
/** Hidden means absent: a secret the caller may not see answers like a missing one. */
const H = "404 SECRET_NOT_FOUND" as const;
/** A workspace the caller does not belong to. */
const W = "404 WORKSPACE_NOT_FOUND" as const;
const L = LISTED;
/** A relayed call the caller may make, refused by the secret's relay policy (it has none). */
const R = "403 DESTINATION_NOT_ALLOWED" as const;
const UL = UNLISTED;
/** No such thing (an approval request that does not exist). */
const N = "404 NOT_FOUND" as const;

// ---------------------------------------------------------------- fixtures

interface Fixture {
  n: number;
  ws: string;
  other: string;
  target: { name: string; id: string };
  users: Record<UserRole | "leaver" | "spare", string>;
  /** The service account the `service` role acts as. */
  account: string;
  /** A user with a password, for the login row (one per store). */
  login: { username: string; password: string };
}

type Params = Record<string, string>;
type Api = (method: string, url: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: any; requestId?: string }>;

interface RowContext {
  f: Fixture;
  /** The bootstrap administrator, who builds and repairs fixtures. */
  admin: Api;
  /** The role under test. */
  as: Api;
}

interface Row {
  op: string;
  expect: Record<Role, Expect>;
  body?: (f: Fixture) => unknown;
  /** A query string for the call. */
  query?: (f: Fixture) => Record<string, string>;
  headers?: Record<string, string>;
  /** Runs before the call (as the administrator, or as the role to mint its own things); may set path parameters for this call. */
  before?: (ctx: RowContext) => Promise<Params | void>;
  /** Puts back what a successful call destroyed. */
  after?: (ctx: RowContext) => Promise<void>;
  /** The call ends the caller's token (logout): it is made with a fresh token of the role. */
  spendsToken?: true;
  /** A route outside the OpenAPI document (the relay proxy): it has a row all the same. */
  outsideOpenApi?: true;
}

const ws = (f: Fixture) => `/api/v1/workspaces/${f.ws}`;
/** Nothing listens on the discard port: webhook rows need an address, not a receiver. */
const DEAD_ENDPOINT = "http://127.0.0.1:9/hook";
const enc = encodeURIComponent;

function row(op: string, statuses: Expect[], options: Omit<Row, "op" | "expect"> = {}): Row {
  assert.equal(statuses.length, ROLES.length, `${op}: one expectation per role`);
  return { op, expect: Object.fromEntries(ROLES.map((role, i) => [role, statuses[i]!])) as Record<Role, Expect>, ...options };
}

async function must(reply: Promise<{ status: number; body: any }>, status: number, what: string): Promise<any> {
  const { status: got, body } = await reply;
  assert.equal(got, status, `fixture: ${what} answered ${got} ${JSON.stringify(body)}`);
  return body;
}

// ---------------------------------------------------------------- THE table
//
// Columns:  owner  admin  granted  ungranted  grouped  viewer  service  expired  revoked  outsider  instanceAdmin
//
// The target is a shared secret `team/target`. Path parameters default to the
// fixtures (see `paramsOf`); rows that destroy something bring their own victim.

const MATRIX: Row[] = [
  // ---- public
  row("GET /api/v1/sys/health", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
  row("POST /api/v1/auth/login", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200], {
    body: (f) => f.login,
  }),
  // The seal, public as in Vault (nobody can log in to a sealed server). This server's root key is the key file:
  // it has no shares, so init and unseal are refused whoever asks.
  row("GET /api/v1/sys/seal-status", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
  row("POST /api/v1/sys/init", [I, I, I, I, I, I, I, I, I, I, I], { body: () => ({ shares: 3, threshold: 2 }) }),
  row("POST /api/v1/sys/unseal", [I, I, I, I, I, I, I, I, I, I, I], { body: () => ({ share: "cfs_matrix" }) }),

  // ---- the caller's own tokens
  row("POST /api/v1/auth/logout", [204, 204, 204, 204, 204, 204, 204, U, U, 204, 204], { spendsToken: true }),
  row("GET /api/v1/auth/token/self", [200, 200, 200, 200, 200, 200, 200, U, U, 200, 200]),
  row("POST /api/v1/auth/token/child", [201, 201, 201, 201, 201, 201, 201, U, U, 201, 201], {
    body: () => ({ name: "matrix-child", ttl: 60 }),
  }),
  row("GET /api/v1/auth/tokens", [200, 200, 200, 200, 200, 200, 200, U, U, 200, 200]),
  // Service accounts mint child tokens only.
  row("POST /api/v1/auth/tokens", [201, 201, 201, 201, 201, 201, D, U, U, 201, 201], {
    body: () => ({ name: "matrix-token", ttl: 3600 }),
  }),
  row("DELETE /api/v1/auth/tokens/{id}", [204, 204, 204, 204, 204, 204, 204, U, U, 204, 204], {
    // A token the role owns: a child of its own token (roles that cannot mint get someone else's, and must be refused before it matters).
    before: async ({ as, admin }) => {
      const child = await as("POST", "/api/v1/auth/token/child", { name: "doomed" });
      if (child.status === 201) return { id: child.body.info.id };
      return { id: (await must(admin("POST", "/api/v1/auth/tokens", { name: "bystander" }), 201, "bystander token")).info.id };
    },
  }),

  // ---- instance administration: users, workspaces, keys
  row("GET /api/v1/users", [D, D, D, D, D, D, D, U, U, D, 200]),
  row("POST /api/v1/users", [D, D, D, D, D, D, D, U, U, D, 201], { body: (f) => ({ username: `made-${f.n}` }) }),
  row("GET /api/v1/users/{user}", [D, D, D, D, D, D, D, U, U, D, 200]),
  row("PATCH /api/v1/users/{user}", [D, D, D, D, D, D, D, U, U, D, 200], { body: () => ({ disabled: false }) }),
  row("GET /api/v1/workspaces", [200, 200, 200, 200, 200, 200, 200, U, U, 200, 200]),
  row("POST /api/v1/workspaces", [D, D, D, D, D, D, D, U, U, D, 201], { body: (f) => ({ name: `made-${f.n}` }) }),
  row("GET /api/v1/sys/keys", [D, D, D, D, D, D, D, U, U, D, 200]),
  row("GET /api/v1/audit", [D, D, D, D, D, D, D, U, U, D, 200]),
  row("GET /api/v1/audit/export", [D, D, D, D, D, D, D, U, U, D, 200]),
  row("GET /api/v1/audit/verify", [D, D, D, D, D, D, D, U, U, D, 200]),
  row("GET /api/v1/alerts", [D, D, D, D, D, D, D, U, U, D, 200]),
  // The whole store, encrypted: instance administrators with a full-scope token only.
  row("GET /api/v1/sys/backup", [D, D, D, D, D, D, D, U, U, D, 200]),
  // Sealing, rekeying and rotating the root key: instance administrators (a key-file server has no seal or shares).
  row("POST /api/v1/sys/seal", [D, D, D, D, D, D, D, U, U, D, I]),
  row("POST /api/v1/sys/rekey", [D, D, D, D, D, D, D, U, U, D, I], { body: () => ({ shares: 3, threshold: 2, currentShares: ["cfs_matrix"] }) }),
  row("POST /api/v1/sys/root-key/rotate", [D, D, D, D, D, D, D, U, U, D, 200]),
  row("POST /api/v1/sys/keys/rotate", [D, D, D, D, D, D, D, U, U, D, 202], {
    after: async ({ admin }) => {
      // Let the re-wrap a rotation starts finish before the next row.
      for (let i = 0; i < 200; i++) {
        const status = await must(admin("GET", "/api/v1/sys/keys"), 200, "key status");
        if (status.rewrap.state !== "running") return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.fail("the re-wrap did not finish");
    },
  }),

  // ---- the workspace and its settings
  row("GET /api/v1/workspaces/{workspace}", [200, 200, 200, 200, 200, 200, 200, U, U, W, 200]),
  row("PATCH /api/v1/workspaces/{workspace}", [200, 200, D, D, D, D, D, U, U, W, 200], { body: () => ({ maxVersions: 10 }) }),
  row("DELETE /api/v1/workspaces/{workspace}", [D, D, D, D, D, D, D, U, U, D, 204], {
    before: async ({ f, admin }) => {
      const name = `victim-${f.n}-${++counter}`;
      await must(admin("POST", "/api/v1/workspaces", { name }), 201, "victim workspace");
      return { workspace: name };
    },
  }),

  // ---- members
  row("GET /api/v1/workspaces/{workspace}/members", [200, 200, D, D, D, D, D, U, U, W, 200]),
  row("PUT /api/v1/workspaces/{workspace}/members/{user}", [200, 200, D, D, D, D, D, U, U, W, 200], { body: () => ({ role: "member" }) }),
  row("DELETE /api/v1/workspaces/{workspace}/members/{user}", [204, 204, D, D, D, D, D, U, U, W, 204], {
    before: async ({ f, admin }) => ({ user: await newMember(admin, f, "victim") }),
  }),
  row("DELETE /api/v1/workspaces/{workspace}/members/{user}/personal-secrets", [200, 200, D, D, D, D, D, U, U, W, 200], {
    before: async ({ f }) => ({ user: f.users.leaver }),
  }),

  // ---- groups
  // ---- alerts and webhooks: the workspace's owners and admins
  row("GET /api/v1/workspaces/{workspace}/alerts", [200, 200, D, D, D, D, D, U, U, W, 200]),
  row("GET /api/v1/workspaces/{workspace}/webhooks", [200, 200, D, D, D, D, D, U, U, W, 200]),
  // ---- the unused-secrets report: names and dates of the workspace's shared secrets, for its owners and admins
  row("GET /api/v1/workspaces/{workspace}/unused-secrets", [200, 200, D, D, D, D, D, U, U, W, 200]),
  row("POST /api/v1/workspaces/{workspace}/webhooks", [201, 201, D, D, D, D, D, U, U, W, 201], {
    body: () => ({ url: DEAD_ENDPOINT, events: ["secret.created"] }),
  }),
  row("DELETE /api/v1/workspaces/{workspace}/webhooks/{webhook}", [204, 204, D, D, D, D, D, U, U, W, 204], {
    before: async ({ f, admin }) => ({ webhook: (await must(admin("POST", `${ws(f)}/webhooks`, { url: DEAD_ENDPOINT, events: ["*"] }), 201, "victim webhook")).webhook.id }),
  }),
  row("GET /api/v1/workspaces/{workspace}/webhooks/{webhook}/deliveries", [200, 200, D, D, D, D, D, U, U, W, 200], {
    before: async ({ f, admin }) => ({ webhook: (await must(admin("POST", `${ws(f)}/webhooks`, { url: DEAD_ENDPOINT, events: ["*"] }), 201, "watched webhook")).webhook.id }),
  }),

  row("GET /api/v1/workspaces/{workspace}/groups", [200, 200, D, D, D, D, D, U, U, W, 200]),
  row("POST /api/v1/workspaces/{workspace}/groups", [201, 201, D, D, D, D, D, U, U, W, 201], { body: (f) => ({ name: `made-${f.n}` }) }),
  row("GET /api/v1/workspaces/{workspace}/groups/{group}", [200, 200, D, D, D, D, D, U, U, W, 200]),
  row("DELETE /api/v1/workspaces/{workspace}/groups/{group}", [204, 204, D, D, D, D, D, U, U, W, 204], {
    before: async ({ f, admin }) => {
      const name = `victim-${f.n}-${++counter}`;
      await must(admin("POST", `${ws(f)}/groups`, { name }), 201, "victim group");
      return { group: name };
    },
  }),
  row("PUT /api/v1/workspaces/{workspace}/groups/{group}/members/{member}", [200, 200, D, D, D, D, D, U, U, W, 200], {
    before: async () => ({ group: "scratch" }),
  }),
  row("DELETE /api/v1/workspaces/{workspace}/groups/{group}/members/{member}", [200, 200, D, D, D, D, D, U, U, W, 200], {
    before: async ({ f, admin }) => {
      await must(admin("PUT", `${ws(f)}/groups/scratch/members/user:${f.users.ungranted}`), 200, "scratch member");
      return { group: "scratch" };
    },
  }),

  // ---- service accounts
  row("GET /api/v1/workspaces/{workspace}/service-accounts", [200, 200, D, D, D, D, D, U, U, W, 200]),
  row("POST /api/v1/workspaces/{workspace}/service-accounts", [201, 201, D, D, D, D, D, U, U, W, 201], { body: (f) => ({ name: `made-${f.n}` }) }),
  row("DELETE /api/v1/workspaces/{workspace}/service-accounts/{account}", [204, 204, D, D, D, D, D, U, U, W, 204], {
    before: async ({ f, admin }) => {
      const name = `victim-${f.n}-${++counter}`;
      await must(admin("POST", `${ws(f)}/service-accounts`, { name }), 201, "victim service account");
      return { account: name };
    },
  }),
  row("GET /api/v1/workspaces/{workspace}/service-accounts/{account}/tokens", [200, 200, D, D, D, D, D, U, U, W, 200]),
  row("POST /api/v1/workspaces/{workspace}/service-accounts/{account}/tokens", [201, 201, D, D, D, D, D, U, U, W, 201], {
    body: () => ({ name: "matrix", access: "read", ttl: 3600 }),
  }),

  // ---- secrets (the target: a shared secret)
  row("GET /api/v1/workspaces/{workspace}/secrets", [L, L, L, UL, L, L, L, U, U, W, L]),
  // Listed: the target's folder (team/) counts it.
  row("GET /api/v1/workspaces/{workspace}/secret-folders", [L, L, L, UL, L, L, L, U, U, W, L]),
  row("POST /api/v1/workspaces/{workspace}/secrets", [201, 201, D, D, D, D, D, U, U, W, 201], {
    body: (f) => ({ name: `made-${f.n}`, data: { k: "made" } }),
  }),
  row("GET /api/v1/workspaces/{workspace}/secrets/{secret}", [200, 200, 200, H, 200, D, 200, U, U, W, 200]),
  // Several reads in one request, all or nothing: each at `read`, like the single read.
  row("POST /api/v1/workspaces/{workspace}/secret-reads", [200, 200, 200, H, 200, D, 200, U, U, W, 200], {
    body: (f) => ({ names: [f.target.name] }),
  }),
  // PUT creates when the name is new, and members may not create shared secrets: an invisible one answers the same.
  row("PUT /api/v1/workspaces/{workspace}/secrets/{secret}", [200, 200, D, D, D, D, D, U, U, W, 200], {
    body: () => ({ data: { password: "replaced" } }),
  }),
  row("PATCH /api/v1/workspaces/{workspace}/secrets/{secret}", [200, 200, D, H, D, D, D, U, U, W, 200], {
    body: () => ({ data: { extra: "patched" } }),
  }),
  row("DELETE /api/v1/workspaces/{workspace}/secrets/{secret}", [204, 204, D, H, D, D, D, U, U, W, 204], {
    after: async ({ f, admin }) => restoreTarget(admin, f),
  }),
  row("POST /api/v1/workspaces/{workspace}/secrets/{secret}/restore", [200, 200, D, H, D, D, D, U, U, W, 200], {
    before: async ({ f, admin }) => {
      await must(admin("DELETE", `${ws(f)}/secrets/${f.target.id}`), 204, "soft-delete the target");
    },
    after: async ({ f, admin }) => restoreTarget(admin, f),
  }),
  row("GET /api/v1/workspaces/{workspace}/secrets/{secret}/versions", [200, 200, 200, H, 200, 200, 200, U, U, W, 200]),
  row("GET /api/v1/workspaces/{workspace}/secrets/{secret}/versions/{version}", [200, 200, 200, H, 200, D, 200, U, U, W, 200], {
    before: async ({ f }) => ({ secret: f.target.id }),
  }),
  row("POST /api/v1/workspaces/{workspace}/secrets/{secret}/rollback", [200, 200, D, H, D, D, D, U, U, W, 200], {
    before: async ({ f }) => ({ secret: f.target.id }),
    body: () => ({ version: 1 }),
  }),
  // Per-version lifecycle and settings: reading metadata is `see`, changing it and (un)deleting versions `write`, destroying `manage`.
  row("GET /api/v1/workspaces/{workspace}/secrets/{secret}/metadata", [200, 200, 200, H, 200, 200, 200, U, U, W, 200]),
  row("PATCH /api/v1/workspaces/{workspace}/secrets/{secret}/metadata", [200, 200, D, H, D, D, D, U, U, W, 200], {
    body: () => ({ customMetadata: { owner: "matrix" } }),
  }),
  row("POST /api/v1/workspaces/{workspace}/secrets/{secret}/versions/delete", [200, 200, D, H, D, D, D, U, U, W, 200], {
    body: () => ({ versions: [1] }),
    after: async ({ f, admin }) => {
      await must(admin("POST", `${ws(f)}/secrets/${f.target.id}/versions/undelete`, { versions: [1] }), 200, "undelete version 1");
    },
  }),
  row("POST /api/v1/workspaces/{workspace}/secrets/{secret}/versions/undelete", [200, 200, D, H, D, D, D, U, U, W, 200], {
    before: async ({ f, admin }) => {
      await must(admin("POST", `${ws(f)}/secrets/${f.target.id}/versions/delete`, { versions: [1] }), 200, "delete version 1");
    },
    body: () => ({ versions: [1] }),
    after: async ({ f, admin }) => {
      await must(admin("POST", `${ws(f)}/secrets/${f.target.id}/versions/undelete`, { versions: [1] }), 200, "undelete version 1");
    },
  }),
  // Last of the rows that need version 1: it is gone for good afterwards.
  row("POST /api/v1/workspaces/{workspace}/secrets/{secret}/versions/destroy", [200, 200, D, H, D, D, D, U, U, W, 200], {
    body: () => ({ versions: [1] }),
  }),

  // ---- HMAC use without reveal (needs use) on `team/signer`, an HMAC secret `granted` may only use;
  // the service token is bound to the target's name, so the signer is hidden from it.
  row("POST /api/v1/workspaces/{workspace}/secrets/{secret}/hmac", [200, 200, 200, H, 200, D, H, U, U, W, 200], {
    before: async () => ({ secret: SIGNER }),
    body: () => ({ message: "matrix" }),
  }),
  row("POST /api/v1/workspaces/{workspace}/secrets/{secret}/verify", [200, 200, 200, H, 200, D, H, U, U, W, 200], {
    before: async () => ({ secret: SIGNER }),
    body: () => ({ message: "matrix", signature: `v1:${"A".repeat(43)}` }),
  }),

  // ---- the relay (needs use on every secret it names): `team/target` has no relay policy, so whoever may use it is
  // refused for that, after the access check; nothing is ever sent. relay.test.ts covers calls that go out.
  row("POST /api/v1/workspaces/{workspace}/relay", [R, R, R, H, R, D, R, U, U, W, R], {
    body: () => ({ method: "GET", url: "https://api.example.com/v1", headers: { Authorization: "Bearer @{vault.team/target}" } }),
  }),
  // Base-URL routes: members read them, workspace admins change them.
  row("GET /api/v1/workspaces/{workspace}/relay-routes", [200, 200, 200, 200, 200, 200, 200, U, U, W, 200], { before: putRoute }),
  row("GET /api/v1/workspaces/{workspace}/relay-routes/{route}", [200, 200, 200, 200, 200, 200, 200, U, U, W, 200], { before: putRoute }),
  row("PUT /api/v1/workspaces/{workspace}/relay-routes/{route}", [200, 200, D, D, D, D, D, U, U, W, 200], { body: () => ROUTE }),
  row("DELETE /api/v1/workspaces/{workspace}/relay-routes/{route}", [204, 204, D, D, D, D, D, U, U, W, 204], { before: putRoute }),
  // The proxy behind a route (not in the OpenAPI document): the same checks as POST …/relay, the caller's token as its API key.
  row("GET /relay/{workspace}/{route}/v1/models", [R, R, R, H, R, D, R, U, U, W, R], { before: putRoute, outsideOpenApi: true }),

  // ---- MCP (Streamable HTTP): each tool is the REST route's call with the caller's token, so a tool refuses exactly as
  // its route does (its error's status and code are compared here); the endpoint itself wants a bearer token.
  row("POST /mcp", [200, 200, 200, H, 200, D, H, U, U, W, 200], {
    query: (f) => ({ workspace: f.ws }),
    headers: { accept: "application/json, text/event-stream" },
    body: () => ({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "hmac_sign", arguments: { secret: SIGNER, message: "matrix" } } }),
  }),

  // ---- approvals: members list the requests on secrets they manage (none here); whoever sees a secret may ask for a
  // grant on it; a decision on a request that does not exist (or that the caller may not decide) is NOT_FOUND.
  // approvals.test.ts covers decisions, waits and timeouts.
  row("GET /api/v1/workspaces/{workspace}/approvals", [200, 200, 200, 200, 200, 200, 200, U, U, W, 200]),
  row("POST /api/v1/workspaces/{workspace}/approvals", [201, 201, 201, H, 201, 201, 201, U, U, W, 201], {
    body: (f) => ({ secret: f.target.name, level: "use", reason: "matrix" }),
  }),
  row("POST /api/v1/workspaces/{workspace}/approvals/{id}/approve", [N, N, N, N, N, N, N, U, U, W, N], {
    before: async () => ({ id: "apr_matrix" }),
    body: () => ({}),
  }),
  row("POST /api/v1/workspaces/{workspace}/approvals/{id}/deny", [N, N, N, N, N, N, N, U, U, W, N], {
    before: async () => ({ id: "apr_matrix" }),
  }),

  // ---- rotation defaults: members read, workspace admins write
  row("GET /api/v1/workspaces/{workspace}/rotation-defaults", [200, 200, 200, 200, 200, 200, 200, U, U, W, 200]),
  row("PUT /api/v1/workspaces/{workspace}/rotation-defaults", [200, 200, D, D, D, D, D, U, U, W, 200], {
    body: () => ({ defaults: [{ label: "production", intervalDays: 90 }] }),
  }),

  // ---- sharing (needs manage)
  row("GET /api/v1/workspaces/{workspace}/secrets/{secret}/grants", [200, 200, D, H, D, D, D, U, U, W, 200], {
    before: async ({ f }) => ({ secret: f.target.id }),
  }),
  row("PUT /api/v1/workspaces/{workspace}/secrets/{secret}/grants/{subject}", [200, 200, D, H, D, D, D, U, U, W, 200], {
    body: () => ({ level: "read" }),
  }),
  row("DELETE /api/v1/workspaces/{workspace}/secrets/{secret}/grants/{subject}", [204, 204, D, H, D, D, D, U, U, W, 204], {
    before: async ({ f, admin }) => {
      await must(admin("PUT", `${ws(f)}/secrets/${f.target.id}/grants/group:bystanders`, { level: "see" }), 200, "bystanders grant");
    },
  }),
];

let counter = 0;
const SIGNER = "team/signer";
/** A secret the no-reveal sweep's callers may only use. */
const USED = "team/used";
/** The relay route rows use: `team/target` has no relay policy, so nothing is ever sent to it. */
const ROUTE = { target: "https://api.example.com", headers: { Authorization: "Bearer @{vault.team/target}" } };

async function putRoute({ f, admin }: RowContext): Promise<void> {
  await must(admin("PUT", `${ws(f)}/relay-routes/matrix`, ROUTE), 200, "relay route");
}

/** Path parameters, unless a row's `before` says otherwise. */
function paramsOf(f: Fixture): Params {
  return {
    workspace: f.ws,
    secret: f.target.name,
    version: "1",
    group: "readers",
    member: `user:${f.users.ungranted}`,
    subject: "group:bystanders",
    account: f.account,
    user: f.users.spare,
    route: "matrix",
    id: "",
  };
}

async function newMember(admin: Api, f: Fixture, prefix: string): Promise<string> {
  const username = `${prefix}-${f.n}-${++counter}`;
  await must(admin("POST", "/api/v1/users", { username }), 201, `user ${username}`);
  await must(admin("PUT", `${ws(f)}/members/${username}`, { role: "member" }), 200, `membership of ${username}`);
  return username;
}

async function restoreTarget(admin: Api, f: Fixture): Promise<void> {
  const reply = await admin("POST", `${ws(f)}/secrets/${f.target.id}/restore`);
  // 400: it was not deleted (the call was refused).
  assert.ok(reply.status === 200 || reply.status === 400, `restoring the target answered ${reply.status} ${JSON.stringify(reply.body)}`);
}

// ---------------------------------------------------------------- the harness

const PASSWORD = "matrix-password-1";

interface Env {
  app: FastifyInstance;
  coffer: Coffer;
  admin: Api;
  callAs(token: string): Api;
  advanceClock(ms: number): void;
  login: Fixture["login"];
}

async function openEnv(t: TestContext, store: StoreKind): Promise<Env | null> {
  const target = await store.open(t);
  if (!target) return null;
  let offset = 0;
  const coffer = await openCoffer({ dataDir: target.dataDir, databaseUrl: target.databaseUrl, clock: () => Date.now() + offset, rateLimits: TEST_RATE_LIMITS });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const callAs =
    (token: string): Api =>
    async (method, url, body, headers = {}) => {
      const reply = await app.inject({
        method: method as "GET",
        url,
        headers: { authorization: `Bearer ${token}`, ...headers },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      // Not every answer is JSON: a backup is a binary stream, an export JSON lines.
      const json = String(reply.headers["content-type"] ?? "").startsWith("application/json");
      const requestId = reply.headers["x-request-id"];
      return { status: reply.statusCode, body: json ? reply.json() : reply.body || undefined, ...(typeof requestId === "string" && { requestId }) };
    };
  const admin = callAs(coffer.bootstrapToken!);
  const login = { username: "matrix-login", password: PASSWORD };
  await must(admin("POST", "/api/v1/users", { username: login.username, password: login.password }), 201, "login user");
  return { app, coffer, admin, callAs, advanceClock: (ms) => (offset += ms), login };
}

/** Two workspaces and everything the table's rows name, for one role; only that role's user gets a password. */
async function buildFixture(env: Env, n: number, role: Role): Promise<Fixture> {
  const { admin } = env;
  const f: Fixture = {
    n,
    ws: `acme-${n}`,
    other: `other-${n}`,
    target: { name: "team/target", id: "" },
    users: {
      owner: `owner-${n}`,
      admin: `admin-${n}`,
      granted: `granted-${n}`,
      ungranted: `ungranted-${n}`,
      grouped: `grouped-${n}`,
      viewer: `viewer-${n}`,
      outsider: `outsider-${n}`,
      leaver: `leaver-${n}`,
      spare: `spare-${n}`,
    },
    account: "agent",
    login: env.login,
  };
  for (const name of [f.ws, f.other]) await must(admin("POST", "/api/v1/workspaces", { name }), 201, `workspace ${name}`);
  for (const [key, username] of Object.entries(f.users)) {
    await must(admin("POST", "/api/v1/users", key === role ? { username, password: PASSWORD } : { username }), 201, `user ${username}`);
  }
  const roles: [string, string, string][] = [
    [f.ws, f.users.owner, "owner"],
    [f.ws, f.users.admin, "admin"],
    [f.ws, f.users.granted, "member"],
    [f.ws, f.users.ungranted, "member"],
    [f.ws, f.users.grouped, "member"],
    [f.ws, f.users.leaver, "member"],
    [f.ws, f.users.viewer, "viewer"],
    [f.other, f.users.outsider, "admin"],
  ];
  for (const [workspace, user, r] of roles) {
    await must(admin("PUT", `/api/v1/workspaces/${workspace}/members/${user}`, { role: r }), 200, `${user} as ${r}`);
  }
  for (const group of ["readers", "scratch", "bystanders"]) await must(admin("POST", `${ws(f)}/groups`, { name: group }), 201, `group ${group}`);
  await must(admin("PUT", `${ws(f)}/groups/readers/members/user:${f.users.grouped}`), 200, "readers member");
  await must(admin("PUT", `${ws(f)}/groups/scratch/members/user:${f.users.ungranted}`), 200, "scratch member");
  await must(admin("POST", `${ws(f)}/service-accounts`, { name: f.account }), 201, "service account");
  const created = await must(admin("POST", `${ws(f)}/secrets`, { name: f.target.name, data: { password: "matrix-v1" } }), 201, "target");
  f.target.id = created.id;
  await must(admin("PUT", `${ws(f)}/secrets/${enc(f.target.name)}`, { data: { password: "matrix-v2" } }), 200, "target v2");
  // The same name in the other workspace: the outsider's 404 is not for want of a secret.
  await must(admin("POST", `/api/v1/workspaces/${f.other}/secrets`, { name: f.target.name, data: { password: "other" } }), 201, "other target");
  const grants: [string, string][] = [
    [`user:${f.users.granted}`, "read"],
    ["group:readers", "read"],
    ["group:bystanders", "see"],
    [`sa:${f.account}`, "read"],
  ];
  for (const [subject, level] of grants) {
    await must(admin("PUT", `${ws(f)}/secrets/${f.target.id}/grants/${subject}`, { level }), 200, `grant to ${subject}`);
  }
  await must(admin("POST", `${ws(f)}/secrets`, { name: SIGNER, type: "HMAC" }), 201, "signer");
  for (const [subject, level] of [[`user:${f.users.granted}`, "use"], ["group:readers", "read"]] as const) {
    await must(admin("PUT", `${ws(f)}/secrets/${enc(SIGNER)}/grants/${subject}`, { level }), 200, `signer grant to ${subject}`);
  }
  return f;
}

/** A token of the role: logged in, minted for the service account, expired or revoked, as the role says. */
async function tokenFor(env: Env, f: Fixture, role: Role, previous?: string): Promise<string> {
  const { admin } = env;
  switch (role) {
    case "service":
      return (await must(admin("POST", `${ws(f)}/service-accounts/${f.account}/tokens`, { secrets: [f.target.name], access: "read" }), 201, "service token")).token;
    case "expired": {
      const minted = await must(admin("POST", "/api/v1/auth/tokens", { name: "expired", ttl: 1 }), 201, "expiring token");
      env.advanceClock(2000);
      return minted.token;
    }
    case "revoked": {
      const minted = await must(admin("POST", "/api/v1/auth/tokens", { name: "revoked" }), 201, "token to revoke");
      await must(admin("DELETE", `/api/v1/auth/tokens/${minted.info.id}`), 204, "revocation");
      return minted.token;
    }
    case "instanceAdmin":
      return (await must(admin("POST", "/api/v1/auth/tokens", { name: "instance-admin" }), 201, "instance admin token")).token;
    default: {
      // A user: a session from the login route, or, for a spent one, another token of the same user.
      if (previous) return (await must(env.callAs(previous)("POST", "/api/v1/auth/tokens", { name: "again" }), 201, "fresh user token")).token;
      return (await must(env.app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username: f.users[role], password: PASSWORD } }).then((r) => ({ status: r.statusCode, body: r.json() })), 200, `login of ${role}`)).token;
    }
  }
}

/** What the administrator sees of everything a refused call might have changed (request ids aside). */
async function snapshot(admin: Api, f: Fixture): Promise<string> {
  const urls = [
    `${ws(f)}`,
    `${ws(f)}/secrets/${f.target.id}`,
    `${ws(f)}/secrets/${f.target.id}/grants`,
    `${ws(f)}/secrets/${f.target.id}/metadata`,
    `${ws(f)}/secrets`,
    `${ws(f)}/members`,
    `${ws(f)}/groups`,
    `${ws(f)}/service-accounts`,
    `${ws(f)}/service-accounts/${f.account}/tokens`,
    "/api/v1/users",
    "/api/v1/workspaces",
    "/api/v1/auth/tokens",
    "/api/v1/sys/keys",
  ];
  const replies = await Promise.all(urls.map((url) => admin("GET", url)));
  return JSON.stringify(replies, (key, value) => (key === "requestId" ? undefined : value));
}

/** Audit completeness: every call of the matrix, allowed or refused, left exactly one event with its outcome. */
async function unaudited(coffer: Coffer, calls: { op: string; status: number; requestId: string | undefined }[]): Promise<string[]> {
  await coffer.audit.drain();
  const problems: string[] = [];
  for (const call of calls) {
    if (call.op === "GET /api/v1/sys/health") continue; // touches nothing: not audited
    if (call.requestId === undefined) {
      problems.push(`${call.op}: no x-request-id, so no audit event`);
      continue;
    }
    const { events } = await coffer.audit.query({ requestId: call.requestId }, { limit: 10 });
    if (events.length !== 1) problems.push(`${call.op}: ${events.length} audit events for request ${call.requestId}, expected 1`);
    else if (events[0]!.outcome !== outcomeOf(call.status) || events[0]!.status !== call.status) {
      problems.push(`${call.op}: audit says ${events[0]!.outcome}/${events[0]!.status}, the caller got ${call.status}`);
    }
  }
  return problems;
}

/** An MCP answer as the REST route's: a tool error carries the status and code of the call it made. */
function asRest(reply: { status: number; body: any }): { status: number; body: any } {
  if (reply.body?.jsonrpc !== "2.0") return reply;
  const result = reply.body.result;
  if (result === undefined) return { status: 500, body: { error: { code: `JSON-RPC ${JSON.stringify(reply.body.error)}` } } };
  if (result.isError !== true) return reply;
  const { status, code } = result.structuredContent.error;
  return { status, body: { error: { code } } };
}

function verdict(expect: Expect, answer: { status: number; body: any }, f: Fixture): string | null {
  const reply = asRest(answer);
  if (expect === LISTED || expect === UNLISTED) {
    if (reply.status !== 200) return `expected ${expect}, got ${reply.status} ${JSON.stringify(reply.body)}`;
    const listed = reply.body.items
      ? (reply.body.items as { id: string }[]).some((item) => item.id === f.target.id)
      : (reply.body.folders as { path: string }[]).some((folder) => f.target.name.startsWith(folder.path));
    return listed === (expect === LISTED) ? null : `expected ${expect}, got 200 ${listed ? "listed" : "unlisted"}`;
  }
  if (typeof expect === "number") {
    return reply.status === expect ? null : `expected ${expect}, got ${reply.status} ${JSON.stringify(reply.body)}`;
  }
  const [status, code] = expect.split(" ");
  if (String(reply.status) === status && reply.body?.error?.code === code) return null;
  return `expected ${expect}, got ${reply.status} ${reply.body?.error?.code ?? JSON.stringify(reply.body)}`;
}

// ---------------------------------------------------------------- the tests

test("the access matrix has exactly one row per operation of the OpenAPI document", async (t) => {
  const coffer = await openCoffer({ dataDir: tempDir() });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const doc = (await app.inject({ method: "GET", url: "/api/v1/openapi.json" })).json();
  const documented: string[] = [];
  for (const [path, operations] of Object.entries<Record<string, unknown>>(doc.paths)) {
    for (const method of Object.keys(operations)) documented.push(`${method.toUpperCase()} ${path}`);
  }
  const rows = MATRIX.filter((r) => !r.outsideOpenApi).map((r) => r.op);
  assert.equal(new Set(rows).size, rows.length, "no operation has two rows");
  const missing = documented.filter((op) => !rows.includes(op));
  const stale = rows.filter((op) => !documented.includes(op));
  assert.deepEqual(missing, [], `operations without a row in the access matrix: add one to MATRIX in ${import.meta.filename}`);
  assert.deepEqual(stale, [], "rows for operations the OpenAPI document does not have");
});

let fixtures = 0;

for (const store of STORES) {
  test(`every route answers every role as the access matrix says (${store.kind})`, async (t) => {
    const env = await openEnv(t, store);
    if (!env) return;
    for (const role of ROLES) {
      await t.test(role, async () => {
        const f = await buildFixture(env, ++fixtures, role);
        const token = await tokenFor(env, f, role);
        const as = env.callAs(token);
        const failures: string[] = [];
        const calls: { op: string; status: number; requestId: string | undefined }[] = [];
        for (const r of MATRIX) {
          const ctx: RowContext = { f, admin: env.admin, as };
          const params = { ...paramsOf(f), ...((await r.before?.(ctx)) ?? {}) };
          const [method = "", template = ""] = r.op.split(" ");
          const query = r.query ? `?${new URLSearchParams(r.query(f))}` : "";
          const url = template.replace(/\{(\w+)\}/g, (_, name: string) => enc(params[name] ?? assert.fail(`${r.op}: no value for {${name}}`))) + query;
          const caller = r.spendsToken ? env.callAs(await tokenFor(env, f, role, token)) : as;
          const expected = r.expect[role];
          const mutating = method !== "GET";
          const refused = typeof expected === "string" && !expected.startsWith("200");
          const before = mutating && refused ? await snapshot(env.admin, f) : undefined;
          const reply = await caller(method, url, r.body?.(f), r.headers);
          calls.push({ op: r.op, status: reply.status, requestId: reply.requestId });
          const wrong = verdict(expected, reply, f);
          if (wrong) failures.push(`${r.op}: ${wrong}`);
          if (before !== undefined && !wrong && (await snapshot(env.admin, f)) !== before) {
            failures.push(`${r.op}: refused with ${reply.status}, yet something changed`);
          }
          await r.after?.(ctx);
        }
        failures.push(...(await unaudited(env.coffer, calls)));
        if (failures.length > 0) assert.fail(`${role}: ${failures.length} cell(s) of the access matrix disagree:\n  ${failures.join("\n  ")}`);
      });
    }
  });
}

test("a use grant or a use token reveals no value through any route: native, Vault, Vellum, relay and its proxy", async (t) => {
  const env = await openEnv(t, STORES[0]!);
  if (!env) return;
  const f = await buildFixture(env, ++fixtures, "granted");
  const { admin } = env;
  const value = `sk-used-${Math.random().toString(36).slice(2, 14)}`;
  const forms = formsOf(value);
  // An upstream that echoes everything it is sent, the key included: the relay must redact it.
  const upstream = await startUpstream(t, (request, body, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ headers: request.headers, body: body.toString("utf8"), url: request.url }));
  });
  await must(admin("POST", `${ws(f)}/secrets`, { name: USED, data: { key: value } }), 201, "the used secret");
  await must(admin("PUT", `${ws(f)}/secrets/${enc(USED)}/grants/user:${f.users.granted}`, { level: "use" }), 200, "use grant");
  await must(
    admin("PATCH", `${ws(f)}/secrets/${enc(USED)}/metadata`, { relayPolicy: { hosts: ["127.0.0.1"], schemes: ["http"], ports: [upstream.port], headers: ["Authorization"], addresses: ["127.0.0.1"] } }),
    200,
    "relay policy",
  );
  await must(admin("PUT", `${ws(f)}/relay-routes/echo`, { target: upstream.url, headers: { Authorization: `Bearer @{vault.${USED}}` } }), 200, "echo route");

  const callers = {
    "use grant": await tokenFor(env, f, "granted"),
    "use token": (await must(admin("POST", "/api/v1/auth/tokens", { name: "use-only", access: "use" }), 201, "use token")).token as string,
  };
  for (const [who, token] of Object.entries(callers)) {
    const seen: string[] = [];
    const call = async (method: string, url: string, body?: unknown): Promise<{ statusCode: number }> => {
      const reply = await env.app.inject({
        method: method as "GET",
        url,
        // Every place a token is read from: Bearer, Vault's and Vellum's headers.
        headers: { authorization: `Bearer ${token}`, "x-vault-token": token, "x-api-key": token },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      seen.push(`${method} ${url} → ${reply.statusCode} ${JSON.stringify(reply.headers)} ${reply.body}`);
      return reply;
    };
    for (const r of MATRIX) {
      if (r.spendsToken) continue;
      const ctx: RowContext = { f, admin, as: env.callAs(token) };
      const params: Params = { ...paramsOf(f), secret: USED, ...((await r.before?.(ctx)) ?? {}) };
      const [method = "", template = ""] = r.op.split(" ");
      await call(method, template.replace(/\{(\w+)\}/g, (_, name: string) => enc(params[name] ?? "")), r.body?.(f));
      await r.after?.(ctx);
    }
    await call("GET", `/v1/${f.ws}/data/${USED}`);
    await call("GET", `/vellum/v1/workspace-secrets/${enc(USED)}`);
    const proxied = await call("POST", `/relay/${f.ws}/echo/v1/chat`, { q: "hello" });
    assert.equal(proxied.statusCode, 200, `${who}: the proxy relays for a use caller`);
    assert.equal(upstream.received.at(-1)!.headers.authorization, `Bearer ${value}`, `${who}: the upstream got the value`);
    assert.equal(upstream.received.at(-1)!.headers["x-api-key"], undefined, `${who}: the caller's Coffer token is not passed on`);
    const relayed = await call("POST", `${ws(f)}/relay`, { method: "GET", url: `${upstream.url}/echo`, headers: { Authorization: `Bearer @{vault.${USED}}` } });
    assert.equal(relayed.statusCode, 200, `${who}: POST …/relay works for a use caller`);
    const leaks = seen.filter((text) => forms.some((form) => text.includes(form)));
    assert.deepEqual(leaks, [], `${who}: answers that hold the value or an encoding of it`);
  }
});
