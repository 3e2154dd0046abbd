/**
 * Identity and access, proved through the API: personal secrets stay their
 * owner's, child tokens never exceed their parent (property-based), revoking
 * reaches every descendant, login with its cookie, CSRF and throttling, a
 * disabled user stops at once (on one node and across two sharing one
 * PostgreSQL), and source-address limits.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test, type TestContext } from "node:test";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { openCoffer, type Coffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { LEVELS, type Level } from "../src/identity/access.ts";
import { compileScope, narrows, type TokenScope } from "../src/identity/token-scope.ts";
import { client, secretsPath } from "./support/http.ts";
import { startServer } from "./support/server.ts";
import { STORES, tempDir, type StoreKind } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

const CANARY = "identity-canary-5c1d9e";
const PASSWORD = "correct-horse-battery";

// ---------------------------------------------------------------- in-process harness

interface Reply {
  status: number;
  body: any;
  headers: Record<string, string | string[] | number | undefined>;
}

interface CallOptions {
  token?: string | undefined;
  cookie?: string | undefined;
  csrf?: string | undefined;
  body?: unknown;
  remoteAddress?: string | undefined;
  headers?: Record<string, string>;
}

type Api = (method: string, url: string, body?: unknown) => Promise<Reply>;

interface Env {
  coffer: Coffer;
  app: FastifyInstance;
  call(method: string, url: string, options?: CallOptions): Promise<Reply>;
  as(token: string, remoteAddress?: string): Api;
  admin: Api;
  advanceClock(ms: number): void;
  now(): number;
  /** Creates a user through the API, optionally with a password and a role in a workspace. */
  addUser(username: string, options?: { password?: string; role?: string; workspace?: string }): Promise<void>;
  login(username: string, password?: string): Promise<{ token: string; csrfToken: string; cookie: string }>;
}

async function setup(t: TestContext, store: StoreKind): Promise<Env | null> {
  const target = await store.open(t);
  if (!target) return null;
  let offset = 0;
  const now = () => Date.now() + offset;
  const coffer = await openCoffer({ dataDir: target.dataDir, databaseUrl: target.databaseUrl, clock: now, rateLimits: TEST_RATE_LIMITS });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const call: Env["call"] = async (method, url, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.cookie) headers.cookie = `coffer_session=${options.cookie}`;
    if (options.csrf) headers["x-csrf-token"] = options.csrf;
    const reply = await app.inject({
      method: method as "GET",
      url,
      headers,
      ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
      ...(options.body === undefined ? {} : { payload: options.body as object }),
    });
    return { status: reply.statusCode, body: reply.body ? reply.json() : undefined, headers: reply.headers };
  };
  const as = (token: string, remoteAddress?: string): Api => (method, url, body) => call(method, url, { token, body, remoteAddress });
  const admin = as(coffer.bootstrapToken!);
  return {
    coffer,
    app,
    call,
    as,
    admin,
    now,
    advanceClock: (ms) => (offset += ms),
    addUser: async (username, options = {}) => {
      const made = await admin("POST", "/api/v1/users", { username, ...(options.password ? { password: options.password } : {}) });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      if (options.role) {
        const member = await admin("PUT", `/api/v1/workspaces/${options.workspace ?? "default"}/members/${username}`, { role: options.role });
        assert.equal(member.status, 200, JSON.stringify(member.body));
      }
    },
    login: async (username, password = PASSWORD) => {
      const reply = await call("POST", "/api/v1/auth/login", { body: { username, password } });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return { token: reply.body.token, csrfToken: reply.body.csrfToken, cookie: reply.body.token };
    },
  };
}

function assertError(reply: Reply, status: number, code: string, what: string): void {
  assert.equal(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body?.error?.code, code, what);
}

const secrets = (ws = "default") => secretsPath(ws);
const secret = (ref: string, ws = "default") => secretsPath(ws, ref);

// ---------------------------------------------------------------- personal secrets

for (const store of STORES) {
  test(`personal secrets are readable by their owner only: workspace owners, admins and instance admins get SECRET_NOT_FOUND on every route (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    await env.addUser("pat", { password: PASSWORD, role: "member" });
    await env.addUser("olga", { password: PASSWORD, role: "owner" });
    await env.addUser("adam", { password: PASSWORD, role: "admin" });
    const pat = env.as((await env.login("pat")).token);

    const made = await pat("POST", secrets(), { name: "my/key", scope: "personal", data: { k: `${CANARY}-v1` } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const id: string = made.body.id;
    assert.equal((await pat("PUT", `${secret("my/key")}?scope=personal`, { data: { k: `${CANARY}-v2` } })).status, 200);
    assert.equal((await pat("POST", secrets(), { name: "my/other", scope: "personal", data: { k: `${CANARY}-other` } })).status, 201);

    // The owner reads them through every route (which also warms the read cache the others must not hit).
    assert.equal((await pat("GET", secret(id))).body.data.k, `${CANARY}-v2`);
    assert.equal((await pat("GET", `${secret("my/key")}?scope=personal`)).body.data.k, `${CANARY}-v2`);
    assert.deepEqual((await pat("GET", `${secrets()}?scope=personal`)).body.items.map((s: { name: string }) => s.name), ["my/key", "my/other"]);
    assert.deepEqual((await pat("GET", `${secret(id)}/versions`)).body.versions.map((v: { version: number }) => v.version), [2, 1]);
    assert.equal((await pat("GET", `${secret(id)}/versions/1`)).body.data.k, `${CANARY}-v1`);
    assert.equal((await pat("GET", `${secret("my/key")}/versions/1?scope=personal`)).body.data.k, `${CANARY}-v1`);
    assert.equal((await pat("POST", "/api/v1/workspaces/default/secret-reads", { names: ["my/key"], scope: "personal" })).status, 200);

    const outsiders: [string, Api][] = [
      ["workspace owner", env.as((await env.login("olga")).token)],
      ["workspace admin", env.as((await env.login("adam")).token)],
      ["instance admin", env.admin],
    ];
    for (const [who, as] of outsiders) {
      const hidden: [string, string, unknown?][] = [
        ["GET", secret(id)],
        ["GET", `${secret(id)}?scope=personal`],
        ["GET", `${secret("my/key")}?scope=personal`],
        ["GET", `${secret(id)}?version=1`],
        ["GET", `${secret(id)}/versions`],
        ["GET", `${secret(id)}/versions?scope=personal`],
        ["GET", `${secret("my/key")}/versions?scope=personal`],
        ["GET", `${secret(id)}/versions/1`],
        ["GET", `${secret(id)}/versions/2?scope=personal`],
        ["GET", `${secret("my/key")}/versions/1?scope=personal`],
        ["GET", `${secret(id)}/grants`],
        ["POST", "/api/v1/workspaces/default/secret-reads", { names: [id] }],
        ["POST", "/api/v1/workspaces/default/secret-reads", { names: ["my/key"], scope: "personal" }],
        // Changing them would tell that they exist, and must not be possible either.
        ["PUT", `${secret(id)}/grants/user:adam`, { level: "read" }],
        ["PUT", secret(id), { data: { k: "overwritten" } }],
        ["PATCH", secret(id), { data: { k: "overwritten" } }],
        ["PATCH", `${secret("my/key")}?scope=personal`, { label: "mine now" }],
        ["POST", `${secret(id)}/rollback`, { version: 1 }],
        ["POST", `${secret(id)}/restore`],
        ["DELETE", secret(id)],
        ["DELETE", `${secret(id)}?permanent=true`],
      ];
      for (const [method, url, body] of hidden) {
        const reply = await as(method, url, body);
        assertError(reply, 404, "SECRET_NOT_FOUND", `${who}: ${method} ${url}`);
        assert.ok(!JSON.stringify(reply.body).includes(CANARY), `${who}: ${method} ${url} leaks no value`);
      }
      for (const url of [`${secrets()}?scope=personal`, `${secrets()}?scope=personal&deleted=include`, secrets(), `${secrets()}?deleted=include`]) {
        const list = await as("GET", url);
        assert.equal(list.status, 200, `${who}: GET ${url}`);
        assert.ok(!list.body.items.some((s: { id: string }) => s.id === id), `${who}: GET ${url} does not list it`);
        assert.ok(!JSON.stringify(list.body).includes("my/key"), `${who}: GET ${url} does not name it`);
      }
    }

    // Owners and admins see how many, never which.
    for (const [who, as] of outsiders) {
      const members = await as("GET", "/api/v1/workspaces/default/members");
      assert.equal(members.status, 200, who);
      assert.equal(members.body.members.find((m: { username: string }) => m.username === "pat").personalSecrets, 2, who);
      assert.ok(!/my\/key|my\/other|identity-canary/.test(JSON.stringify(members.body)), `${who}: the member list names no personal secret`);
    }
    const unchanged = await pat("GET", secret(id));
    assert.equal(unchanged.body.version, 2, "nothing the others tried changed it");
    assert.equal(unchanged.body.label, made.body.label, "nothing the others tried changed its label");

    // … and delete a departed member's, unread.
    const [, adam] = outsiders[1]!;
    const destroyed = await adam("DELETE", "/api/v1/workspaces/default/members/pat/personal-secrets");
    assert.equal(destroyed.status, 200, JSON.stringify(destroyed.body));
    assert.deepEqual(destroyed.body, { destroyed: 2 });
    assert.ok(!JSON.stringify(destroyed.body).includes(CANARY));
    assertError(await pat("GET", secret(id)), 404, "SECRET_NOT_FOUND", "the owner after the clean-up");
    assert.deepEqual((await pat("GET", `${secrets()}?scope=personal&deleted=include`)).body.items, []);
    assert.equal((await adam("GET", "/api/v1/workspaces/default/members")).body.members.find((m: { username: string }) => m.username === "pat").personalSecrets, 0);
  });
}

// ---------------------------------------------------------------- narrows(): pure properties

const LEVEL_LIST = ["see", "use", "read", "write", "manage"] as const satisfies readonly Level[];
const level = fc.constantFrom(...LEVEL_LIST);
const PIECES = ["OPENAI", "_", "KEY", "db", "/", "a", "."];
const pattern = fc.array(fc.constantFrom(...PIECES, "*", "?"), { minLength: 1, maxLength: 4 }).map((parts) => parts.join(""));
const nameSample = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 5 }).map((parts) => parts.join(""));
const OCTETS = [0, 1, 10, 127, 192, 255];
const ipv4 = fc.tuple(fc.constantFrom(...OCTETS), fc.constantFrom(...OCTETS), fc.constantFrom(...OCTETS), fc.constantFrom(...OCTETS)).map((o) => o.join("."));
const cidr = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(ipv4, fc.constantFrom(0, 8, 16, 24, 31, 32)).map(([ip, bits]) => `${ip}/${bits}`) },
  { weight: 1, arbitrary: fc.constantFrom("::1/128", "::/0", "fe80::/10") },
);
const address = fc.oneof({ weight: 5, arbitrary: ipv4 }, { weight: 1, arbitrary: fc.constantFrom("::1", "fe80::1", "2001:db8::1") });

const scopeArb: fc.Arbitrary<TokenScope> = fc.record({
  workspaceId: fc.constantFrom(null, "ws_a", "ws_b"),
  secrets: fc.option(fc.uniqueArray(pattern, { minLength: 1, maxLength: 3 }), { nil: null }),
  maxLevel: level,
  cidrs: fc.option(fc.uniqueArray(cidr, { minLength: 1, maxLength: 3 }), { nil: null }),
});

/** A name the glob matches: each `*` becomes a run of pieces, each `?` one character. */
function instance(glob: string): fc.Arbitrary<string> {
  const parts = glob.split(/([*?])/).filter((part) => part !== "");
  return fc
    .tuple(...parts.map((part) => (part === "*" ? fc.array(fc.constantFrom("a", "_", "KEY", "/"), { maxLength: 2 }).map((p) => p.join("")) : part === "?" ? fc.constantFrom("a", "Z", "_") : fc.constant(part))))
    .map((pieces) => pieces.join(""))
    .filter((name) => name.length > 0);
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** A range inside `outer`: a longer (or equal) prefix around any address of it. */
function subRange(outer: string): fc.Arbitrary<string> {
  const [ip = "", bitsText = ""] = outer.split("/");
  if (ip.includes(":")) return fc.constant(outer);
  const bits = Number(bitsText);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return fc.tuple(fc.integer({ min: bits, max: 32 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(([prefix, high, low]) => {
    const host = ((high << 16) | low) >>> 0;
    return `${intToIp(((ipToInt(ip) & mask) | (host & ~mask)) >>> 0)}/${prefix}`;
  });
}

/** A scope that allows no more than `parent`, built the ways narrows() is meant to accept. */
function narrowerThan(parent: TokenScope): fc.Arbitrary<TokenScope> {
  const parentSecrets = parent.secrets;
  const parentCidrs = parent.cidrs;
  return fc.record({
    workspaceId: parent.workspaceId === null ? fc.constantFrom(null, "ws_a", "ws_b") : fc.constant(parent.workspaceId),
    maxLevel: fc.constantFrom(...LEVEL_LIST.filter((l) => LEVELS[l] <= LEVELS[parent.maxLevel])),
    secrets:
      parentSecrets === null
        ? fc.option(fc.uniqueArray(pattern, { minLength: 1, maxLength: 3 }), { nil: null })
        : fc
            .tuple(fc.subarray(parentSecrets), fc.array(fc.constantFrom(...parentSecrets).chain(instance), { maxLength: 2 }))
            .map(([kept, literals]) => [...new Set([...kept, ...literals])])
            .filter((list) => list.length > 0),
    cidrs:
      parentCidrs === null
        ? fc.option(fc.uniqueArray(cidr, { minLength: 1, maxLength: 3 }), { nil: null })
        : fc.array(fc.constantFrom(...parentCidrs).chain(subRange), { minLength: 1, maxLength: 3 }).map((list) => [...new Set(list)]),
  });
}

/** Whatever `child` allows, `parent` allows: checked on sample names and addresses, and on level and workspace. */
function assertWithin(child: TokenScope, parent: TokenScope, names: string[], addresses: string[]): void {
  assert.ok(LEVELS[child.maxLevel] <= LEVELS[parent.maxLevel], "level");
  assert.ok(parent.workspaceId === null || child.workspaceId === parent.workspaceId, "workspace");
  const c = compileScope(child);
  const p = compileScope(parent);
  for (const name of names) if (c.allowsName(name)) assert.ok(p.allowsName(name), `name ${name}`);
  for (const ip of addresses) if (c.allowsAddress(ip)) assert.ok(p.allowsAddress(ip), `address ${ip}`);
}

test("narrows() is reflexive: every scope narrows itself", () => {
  fc.assert(fc.property(scopeArb, (scope) => narrows(scope, scope)), { numRuns: 500 });
});

/** Scopes from few choices, so random triples often form chains. */
const smallScopeArb: fc.Arbitrary<TokenScope> = fc.record({
  workspaceId: fc.constantFrom(null, "ws_a"),
  secrets: fc.option(fc.subarray(["OPENAI_*", "OPENAI_KEY", "db/*"], { minLength: 1 }), { nil: null, freq: 2 }),
  maxLevel: level,
  cidrs: fc.option(fc.subarray(["10.0.0.0/8", "10.1.0.0/16", "127.0.0.1/32"], { minLength: 1 }), { nil: null, freq: 2 }),
});

test("narrows() is transitive on random triples and on chains of narrowings", (t) => {
  let chained = 0;
  fc.assert(
    fc.property(smallScopeArb, smallScopeArb, smallScopeArb, (a, b, c) => {
      if (narrows(a, b) && narrows(b, c)) {
        chained++;
        assert.ok(narrows(a, c));
      }
    }),
    { numRuns: 2000 },
  );
  t.diagnostic(`random triples formed ${chained} chains`);
  assert.ok(chained >= 10, `random triples formed ${chained} chains`);
  const chains = scopeArb.chain((c) => narrowerThan(c).chain((b) => narrowerThan(b).map((a) => ({ a, b, c }))));
  fc.assert(
    fc.property(chains, ({ a, b, c }) => {
      assert.ok(narrows(b, c), "a narrowed scope narrows its parent");
      assert.ok(narrows(a, b), "and its own narrowing narrows it");
      assert.ok(narrows(a, c), "so the chain holds end to end");
    }),
    { numRuns: 500 },
  );
});

test("a scope with a higher level never narrows one with a lower level", () => {
  const pairs = fc.tuple(scopeArb, scopeArb).filter(([a, b]) => LEVELS[a.maxLevel] > LEVELS[b.maxLevel]);
  fc.assert(fc.property(pairs, ([higher, lower]) => !narrows(higher, lower)), { numRuns: 500 });
});

test("whatever narrows() accepts allows no name, address, level or workspace its parent does not", () => {
  const related = fc.oneof(
    scopeArb.chain((parent) => narrowerThan(parent).map((child) => ({ child, parent }))),
    fc.record({ child: scopeArb, parent: scopeArb }),
  );
  const withSamples = related.chain(({ child, parent }) =>
    fc.record({
      child: fc.constant(child),
      parent: fc.constant(parent),
      names: fc.array(fc.oneof(nameSample, ...(child.secrets ?? []).map(instance)), { maxLength: 12 }),
      addresses: fc.array(address, { maxLength: 12 }),
    }),
  );
  fc.assert(
    fc.property(withSamples, ({ child, parent, names, addresses }) => {
      if (narrows(child, parent)) assertWithin(child, parent, names, addresses);
    }),
    { numRuns: 1000 },
  );
});

// ---------------------------------------------------------------- child tokens through the API

interface ScopeRequest {
  workspace?: string | undefined;
  secrets?: string[] | undefined;
  access?: Level | undefined;
  cidrs?: string[] | undefined;
  ttl?: number | undefined;
}

const API_PATTERNS = ["OPENAI_*", "OPENAI_KEY", "OPENAI_ORG", "db/*", "db/password", "*", "other", "?PENAI_KEY", "OPENAI_?EY"];
const API_CIDRS = ["127.0.0.0/8", "127.0.0.1/32", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "0.0.0.0/0", "::1/128", "192.168.0.0/16"];
const SOURCES = ["127.0.0.1", "10.1.2.3", "192.168.5.5"];
const PROBES: [string, string][] = [
  ["alpha", "OPENAI_KEY"],
  ["alpha", "OPENAI_ORG"],
  ["alpha", "db/password"],
  ["beta", "OPENAI_KEY"],
  ["beta", "other"],
];

function scopeRequest(workspaces: string[]): fc.Arbitrary<ScopeRequest> {
  return fc.record({
    workspace: fc.option(fc.constantFrom(...workspaces), { nil: undefined, freq: 2 }),
    secrets: fc.option(fc.uniqueArray(fc.constantFrom(...API_PATTERNS), { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 2 }),
    access: fc.option(level, { nil: undefined, freq: 2 }),
    cidrs: fc.option(fc.uniqueArray(fc.constantFrom(...API_CIDRS), { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 2 }),
    ttl: fc.option(fc.integer({ min: 60, max: 7200 }), { nil: undefined, freq: 2 }),
  });
}

/** A child request built from the parent's own limits: a subset of its patterns and ranges, a level at or near its own. */
function nearby(parent: ScopeRequest): fc.Arbitrary<ScopeRequest> {
  const names = [...new Set([...(parent.secrets ?? []), "OPENAI_KEY", "OPENAI_ORG", "db/password", "other"])];
  const ranges = [...new Set([...(parent.cidrs ?? []), "127.0.0.1/32"])];
  return fc.record({
    workspace: parent.workspace === undefined ? fc.option(fc.constantFrom("alpha", "beta"), { nil: undefined, freq: 2 }) : fc.constantFrom(undefined, parent.workspace),
    secrets: fc.option(fc.subarray(names, { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 2 }),
    access: fc.option(level, { nil: undefined, freq: 2 }),
    cidrs: fc.option(fc.subarray(ranges, { minLength: 1, maxLength: Math.min(2, ranges.length) }), { nil: undefined, freq: 2 }),
    ttl: fc.option(fc.integer({ min: 60, max: 7200 }), { nil: undefined, freq: 2 }),
  });
}

function scopeOf(info: { workspaceId: string | null; secrets: string[] | null; access: string; cidrs: string[] | null }): TokenScope {
  return { workspaceId: info.workspaceId, secrets: info.secrets, maxLevel: info.access as Level, cidrs: info.cidrs };
}

/** A user who is admin of `alpha` and a member of `beta` with one grant, and the five probe secrets. */
async function tokenWorld(env: Env): Promise<{ session: string; ids: Record<string, string> }> {
  const ids: Record<string, string> = {};
  for (const name of ["alpha", "beta"]) {
    const made = await env.admin("POST", "/api/v1/workspaces", { name });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    ids[name] = made.body.id;
  }
  await env.addUser("mira", { password: PASSWORD, role: "admin", workspace: "alpha" });
  assert.equal((await env.admin("PUT", "/api/v1/workspaces/beta/members/mira", { role: "member" })).status, 200);
  for (const [ws, name] of PROBES) {
    assert.equal((await env.admin("POST", secrets(ws), { name, data: { v: `${ws}:${name}` } })).status, 201);
  }
  assert.equal((await env.admin("PUT", `${secret("OPENAI_KEY", "beta")}/grants/user:mira`, { level: "read" })).status, 200);
  return { session: (await env.login("mira")).token, ids };
}

async function readable(env: Env, token: string): Promise<Map<string, [number, number]>> {
  const out = new Map<string, [number, number]>();
  for (const source of SOURCES) {
    const as = env.as(token, source);
    for (const [ws, name] of PROBES) {
      const read = await as("GET", secret(name, ws));
      const see = await as("GET", `${secret(name, ws)}/versions`);
      out.set(`${source} ${ws}/${name}`, [read.status, see.status]);
    }
  }
  return out;
}

for (const store of STORES) {
  test(`a child token is never wider or longer-lived than its parent, on random scopes (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    const { session, ids } = await tokenWorld(env);
    const runs = scopeRequest(["alpha", "beta"]).chain((parentRequest) => {
      // Half the children are drawn at random, half from the parent's own limits (mostly narrower, some not), so both outcomes are common.
      const children = fc.oneof(scopeRequest(["alpha", "beta", "nope"]), nearby(parentRequest));
      return fc.tuple(fc.constant(parentRequest), children, children, fc.constantFrom(...SOURCES, "127.0.0.1", "127.0.0.1"));
    });
    const outcomes = { minted: 0, wider: 0, unreachable: 0, elsewhere: 0 };
    await fc.assert(
      fc.asyncProperty(runs, async ([parentRequest, childRequest, grandchildRequest, source]) => {
        const parentReply = await env.as(session)("POST", "/api/v1/auth/tokens", parentRequest);
        assert.equal(parentReply.status, 201, `parent ${JSON.stringify(parentRequest)}: ${JSON.stringify(parentReply.body)}`);
        const parent = scopeOf(parentReply.body.info);
        const parentExpiry = parentReply.body.info.expiresAt === null ? null : Date.parse(parentReply.body.info.expiresAt);
        const parentToken: string = parentReply.body.token;

        const asked = Date.now();
        const reply = await env.as(parentToken, source)("POST", "/api/v1/auth/token/child", childRequest);
        const wanted: TokenScope = {
          workspaceId: childRequest.workspace === undefined ? parent.workspaceId : (ids[childRequest.workspace] ?? "ws_missing"),
          secrets: childRequest.secrets ?? parent.secrets,
          maxLevel: childRequest.access ?? parent.maxLevel,
          cidrs: childRequest.cidrs ?? parent.cidrs,
        };
        const what = `parent ${JSON.stringify(parent)} from ${source}, child ${JSON.stringify(childRequest)}: ${reply.status} ${JSON.stringify(reply.body)}`;
        if (!compileScope(parent).allowsAddress(source)) {
          outcomes.elsewhere++;
          assertError(reply, 403, "ACCESS_DENIED", `the parent may not be used from here; ${what}`);
          return;
        }
        const reachable = childRequest.workspace === undefined || (wanted.workspaceId !== "ws_missing" && (parent.workspaceId === null || parent.workspaceId === wanted.workspaceId));
        if (!reachable) {
          outcomes.unreachable++;
          assertError(reply, 404, "WORKSPACE_NOT_FOUND", `a workspace the parent cannot reach; ${what}`);
          return;
        }
        if (!narrows(wanted, parent)) {
          outcomes.wider++;
          assertError(reply, 403, "ACCESS_DENIED", `a wider child is refused; ${what}`);
          return;
        }
        assert.equal(reply.status, 201, what);
        outcomes.minted++;
        const child = scopeOf(reply.body.info);
        assert.deepEqual(child, wanted, `the child carries the scope asked for; ${what}`);
        assert.equal(reply.body.info.parentId, parentReply.body.info.id);
        const childExpiry = Date.parse(reply.body.info.expiresAt);
        if (parentExpiry !== null) assert.ok(childExpiry <= parentExpiry, `the child dies no later than its parent; ${what}`);
        assert.ok(childExpiry <= env.now() + (childRequest.ttl ?? 3600) * 1000 && childExpiry >= asked, `the child lives at most its ttl; ${what}`);

        // The concrete effect: from every source address, nothing the child reads or sees is closed to the parent.
        const [parentCan, childCan] = await Promise.all([readable(env, parentToken), readable(env, reply.body.token)]);
        for (const [probe, [read, see]] of childCan) {
          const [parentRead, parentSee] = parentCan.get(probe)!;
          if (read === 200) assert.equal(parentRead, 200, `the child reads ${probe}, so must the parent; ${what}`);
          if (see === 200) assert.equal(parentSee, 200, `the child sees ${probe}, so must the parent; ${what}`);
        }

        // A grandchild, minted by the child, stays within the grandparent too.
        if (!compileScope(child).allowsAddress(source)) return;
        const grand = await env.as(reply.body.token, source)("POST", "/api/v1/auth/token/child", grandchildRequest);
        if (grand.status === 201) {
          assert.ok(narrows(scopeOf(grand.body.info), parent), `a grandchild lies within its grandparent; ${JSON.stringify(grand.body.info)}`);
          assert.ok(Date.parse(grand.body.info.expiresAt) <= childExpiry, "a grandchild dies no later than its parent");
        } else {
          assert.ok([403, 404].includes(grand.status), `a grandchild is refused with 403 or 404, not ${grand.status} ${JSON.stringify(grand.body)}`);
        }
      }),
      { numRuns: 50 },
    );
    t.diagnostic(`outcomes of 50 runs: ${JSON.stringify(outcomes)}`);
    assert.ok(outcomes.minted >= 5 && outcomes.wider >= 1, `the runs both minted and refused children: ${JSON.stringify(outcomes)}`);
  });

  test(`a child asking for more than its parent on any one dimension gets 403 (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    const { session } = await tokenWorld(env);
    // A parent usable from 127.0.0.1 with at least one limit, and a child request that lifts exactly one of them.
    const parentArb = fc
      .record({
        secrets: fc.option(fc.uniqueArray(fc.constantFrom(...API_PATTERNS.filter((p) => p !== "*")), { minLength: 1, maxLength: 3 }), { nil: undefined }),
        access: fc.option(fc.constantFrom<Level>("see", "use", "read", "write"), { nil: undefined }),
        cidrs: fc.option(fc.constantFrom(["127.0.0.0/8"], ["127.0.0.1/32", "10.0.0.0/8"]), { nil: undefined }),
      })
      .filter((p) => p.secrets !== undefined || p.access !== undefined || p.cidrs !== undefined);
    const cases = parentArb.chain((parent) => {
      const widen: fc.Arbitrary<ScopeRequest>[] = [];
      if (parent.access !== undefined) {
        const above = LEVEL_LIST.filter((l) => LEVELS[l] > LEVELS[parent.access!]);
        widen.push(fc.constantFrom(...above).map((access) => ({ access })));
      }
      if (parent.secrets !== undefined) {
        widen.push(fc.constantFrom(["*"], ["x*"], ["unrelated"], ["OPENAI_*x"]).map((extra) => ({ secrets: [...parent.secrets!, ...extra] })));
      }
      if (parent.cidrs !== undefined) {
        widen.push(fc.constantFrom(["0.0.0.0/0"], ["127.0.0.0/7"], ["192.168.0.0/16"]).map((extra) => ({ cidrs: [...parent.cidrs!, ...extra] })));
      }
      return fc.record({ parent: fc.constant(parent), child: fc.oneof(...widen) });
    });
    await fc.assert(
      fc.asyncProperty(cases, async ({ parent, child }) => {
        const minted = await env.as(session)("POST", "/api/v1/auth/tokens", parent);
        assert.equal(minted.status, 201, JSON.stringify(minted.body));
        const wanted: TokenScope = { ...scopeOf(minted.body.info), ...(child.secrets ? { secrets: child.secrets } : {}), ...(child.access ? { maxLevel: child.access } : {}), ...(child.cidrs ? { cidrs: child.cidrs } : {}) };
        assert.ok(!narrows(wanted, scopeOf(minted.body.info)), "the oracle agrees the request is wider");
        const reply = await env.as(minted.body.token)("POST", "/api/v1/auth/token/child", child);
        assertError(reply, 403, "ACCESS_DENIED", `parent ${JSON.stringify(parent)}, child ${JSON.stringify(child)}`);
      }),
      { numRuns: 50 },
    );
  });

  // ---------------------------------------------------------------- revocation and logout

  test(`revoking a token revokes its children and grandchildren, and logout revokes the session (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    await env.addUser("rex", { password: PASSWORD, role: "member" });
    const session = (await env.login("rex")).token;
    const mint = async (from: string, route: "tokens" | "token/child", body: object = {}) => {
      const reply = await env.as(from)("POST", `/api/v1/auth/${route}`, body);
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return { token: reply.body.token as string, id: reply.body.info.id as string };
    };
    const parent = await mint(session, "tokens", { name: "parent" });
    const child = await mint(parent.token, "token/child");
    const grandchild = await mint(child.token, "token/child");
    const sibling = await mint(session, "tokens", { name: "sibling" });
    const nephew = await mint(sibling.token, "token/child");
    const sessionChild = await mint(session, "token/child");
    const works = async (token: string) => (await env.as(token)("GET", "/api/v1/auth/token/self")).status;
    // Every one is used once, so the revocation must get past the principal cache.
    for (const token of [session, parent.token, child.token, grandchild.token, sibling.token, nephew.token, sessionChild.token]) assert.equal(await works(token), 200);

    assert.equal((await env.as(session)("DELETE", `/api/v1/auth/tokens/${parent.id}`)).status, 204);
    for (const [what, token] of [["the parent", parent.token], ["its child", child.token], ["its grandchild", grandchild.token]] as const) {
      assertError(await env.as(token)("GET", "/api/v1/auth/token/self"), 401, "UNAUTHENTICATED", what);
      assertError(await env.as(token)("GET", "/api/v1/workspaces"), 401, "UNAUTHENTICATED", what);
    }
    for (const token of [session, sibling.token, nephew.token, sessionChild.token]) assert.equal(await works(token), 200, "other branches live on");
    const listed = (await env.as(session)("GET", "/api/v1/auth/tokens")).body.tokens.map((info: { id: string }) => info.id);
    for (const id of [parent.id, child.id, grandchild.id]) assert.ok(!listed.includes(id), "revoked tokens are not listed");
    assertError(await env.as(session)("DELETE", `/api/v1/auth/tokens/${parent.id}`), 404, "NOT_FOUND", "revoking twice");

    const logout = await env.as(session)("POST", "/api/v1/auth/logout");
    assert.equal(logout.status, 204);
    assert.match(String(logout.headers["set-cookie"]), /coffer_session=;.*Expires=Thu, 01 Jan 1970/i, "logout clears the cookie");
    assertError(await env.as(session)("GET", "/api/v1/auth/token/self"), 401, "UNAUTHENTICATED", "the session after logout");
    assertError(await env.as(sessionChild.token)("GET", "/api/v1/auth/token/self"), 401, "UNAUTHENTICATED", "a child of the session after logout");
    assert.equal(await works(sibling.token), 200, "an independent API token outlives the session it was made from");

    // Logging out through the cookie needs the CSRF token like any other change, and then the cookie is dead.
    const web = await env.login("rex");
    assertError(await env.call("POST", "/api/v1/auth/logout", { cookie: web.cookie }), 403, "ACCESS_DENIED", "a cookie logout without CSRF");
    assert.equal((await env.call("POST", "/api/v1/auth/logout", { cookie: web.cookie, csrf: web.csrfToken })).status, 204);
    assertError(await env.call("GET", "/api/v1/auth/token/self", { cookie: web.cookie }), 401, "UNAUTHENTICATED", "the cookie after logout");
  });

  test(`tokens expired or revoked over a week ago are tidied away; newer ones, and tokens in force, stay (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    await env.addUser("tia", { password: PASSWORD, role: "member" });
    const session = (await env.login("tia")).token;
    const mint = async (body: object) => {
      const reply = await env.as(session)("POST", "/api/v1/auth/tokens", body);
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return { token: reply.body.token as string, id: reply.body.info.id as string };
    };
    const lasting = await mint({ name: "lasting" });
    const brief = await mint({ name: "brief", ttl: 60 });
    const revoked = await mint({ name: "revoked" });
    assert.equal((await env.as(session)("DELETE", `/api/v1/auth/tokens/${revoked.id}`)).status, 204);
    const listed = async () => ((await env.as(lasting.token)("GET", "/api/v1/auth/tokens")).body.tokens as { name: string }[]).map((token) => token.name).sort();
    const rows = async () => (await env.coffer.store.db.selectFrom("tokens").select("name").where("principalId", "=", (await env.coffer.store.db.selectFrom("users").select("id").where("username", "=", "tia").executeTakeFirstOrThrow()).id).execute()).map((row) => row.name).sort();
    const DAY = 86_400_000;

    env.advanceClock(2 * DAY);
    assert.deepEqual(await listed(), ["lasting"], "the expired session and token are not listed, the revoked one neither");
    assert.equal(await env.coffer.tokens.tidy(env.now() - 7 * DAY), 0, "nothing ended a week ago yet");
    assertError(await env.as(brief.token)("GET", "/api/v1/auth/token/self"), 401, "UNAUTHENTICATED", "an expired token");

    env.advanceClock(6 * DAY);
    assert.equal(await env.coffer.tokens.tidy(env.now() - 7 * DAY), 3, "the expired token, the revoked one and the 12-hour session");
    assert.deepEqual(await rows(), ["lasting"]);
    assert.equal((await env.as(lasting.token)("GET", "/api/v1/auth/token/self")).status, 200, "a token in force stays");
    assertError(await env.as(brief.token)("GET", "/api/v1/auth/token/self"), 401, "UNAUTHENTICATED", "a tidied token");
  });

  // ---------------------------------------------------------------- login, cookie, CSRF, throttling

  test(`login returns a token, or for a browser only an HttpOnly SameSite=Strict cookie guarded by CSRF, and is throttled after 5 failures (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    await env.addUser("lena", { password: PASSWORD, role: "member" });

    // An API or CLI login: the token is in the answer, and no cookie is set.
    const login = await env.call("POST", "/api/v1/auth/login", { body: { username: "lena", password: PASSWORD } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.match(login.body.token, /^cft_[0-9A-Za-z]{49}$/);
    assert.equal(login.body.user.username, "lena");
    assert.ok(Date.parse(login.body.expiresAt) > env.now());
    assert.equal(login.headers["set-cookie"], undefined, "a token login sets no cookie");
    assert.equal((await env.call("POST", "/api/v1/auth/login", { body: { username: "lena", password: PASSWORD, session: "token" } })).body.token.length, 53);
    assertError(await env.call("POST", "/api/v1/auth/login", { body: { username: "lena", password: PASSWORD, session: "both" } }), 400, "INVALID_REQUEST", "an unknown session kind");

    // A browser's login: the token only in the HttpOnly cookie, never in the answer the page's scripts read.
    const browser = await env.call("POST", "/api/v1/auth/login", { body: { username: "lena", password: PASSWORD, session: "cookie" } });
    assert.equal(browser.status, 200, JSON.stringify(browser.body));
    assert.deepEqual(Object.keys(browser.body).sort(), ["csrfToken", "expiresAt", "user"]);
    const cookie = String(browser.headers["set-cookie"]);
    const token = /^coffer_session=(cft_[0-9A-Za-z]{49});/.exec(cookie)?.[1];
    assert.ok(token, cookie);
    assert.ok(!JSON.stringify(browser.body).includes(token), "the answer does not carry the session token");
    const { csrfToken } = browser.body;
    assert.equal(typeof csrfToken, "string");
    assert.ok(csrfToken.length >= 32 && csrfToken !== token);
    assert.match(cookie, /;\s*HttpOnly/i);
    assert.match(cookie, /;\s*SameSite=Strict/i);
    assert.match(cookie, /;\s*Path=\//i);

    // Wrong passwords: 401, then 429 with Retry-After even for the right one. (Own address, so the other tests' logins are not throttled.)
    const from = "10.20.30.40";
    const wrong: Reply[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await env.call("POST", "/api/v1/auth/login", { body: { username: "lena", password: `wrong-password-${i}` }, remoteAddress: from });
      assertError(reply, 401, "UNAUTHENTICATED", `wrong password #${i + 1}`);
      wrong.push(reply);
    }
    const limited = await env.call("POST", "/api/v1/auth/login", { body: { username: "lena", password: PASSWORD }, remoteAddress: from });
    assertError(limited, 429, "RATE_LIMITED", "the right password after 5 failures");
    const retryAfter = Number(limited.headers["retry-after"]);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${limited.headers["retry-after"]}`);
    assert.ok(!("token" in limited.body), "no token while throttled");
    // Throttled per (username, address): a guesser elsewhere cannot lock lena out from her own place.
    assert.equal(
      (await env.call("POST", "/api/v1/auth/login", { body: { username: "lena", password: PASSWORD }, remoteAddress: "10.20.30.41" })).status,
      200,
      "the same username from another address is not throttled",
    );
    env.advanceClock(retryAfter * 1000);
    assert.equal((await env.call("POST", "/api/v1/auth/login", { body: { username: "lena", password: PASSWORD }, remoteAddress: from })).status, 200, "after Retry-After the right password works");

    // An unknown username is answered exactly like a wrong password.
    const unknown = await env.call("POST", "/api/v1/auth/login", { body: { username: "nobody-here", password: "whatever-password" }, remoteAddress: "10.20.30.42" });
    assertError(unknown, 401, "UNAUTHENTICATED", "an unknown username");
    assert.equal(unknown.body.error.message, wrong[0]!.body.error.message);
    assert.equal(unknown.headers["set-cookie"], undefined);
  });

  // ---------------------------------------------------------------- disabled users

  test(`a disabled user's tokens and sessions fail on the next request, and work again once re-enabled (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    await env.addUser("dora", { password: PASSWORD, role: "member" });
    assert.equal((await env.admin("POST", secrets(), { name: "team/db", data: { password: CANARY } })).status, 201);
    assert.equal((await env.admin("PUT", `${secret("team/db")}/grants/user:dora`, { level: "read" })).status, 200);
    const web = await env.login("dora");
    const api = (await env.as(web.token)("POST", "/api/v1/auth/tokens", { name: "ci" })).body.token as string;
    const child = (await env.as(api)("POST", "/api/v1/auth/token/child", {})).body.token as string;
    const tries: [string, () => Promise<Reply>][] = [
      ["the session", () => env.as(web.token)("GET", secret("team/db"))],
      ["the session cookie", () => env.call("GET", secret("team/db"), { cookie: web.cookie })],
      ["an API token", () => env.as(api)("GET", secret("team/db"))],
      ["a child token", () => env.as(child)("GET", secret("team/db"))],
    ];
    for (const [what, attempt] of tries) assert.equal((await attempt()).status, 200, what);

    const disabled = await env.admin("PATCH", "/api/v1/users/dora", { disabled: true });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.equal(disabled.body.disabled, true);
    for (const [what, attempt] of tries) assertError(await attempt(), 401, "UNAUTHENTICATED", `${what} of a disabled user`);
    assertError(await env.call("POST", "/api/v1/auth/login", { body: { username: "dora", password: PASSWORD } }), 401, "UNAUTHENTICATED", "a disabled user's login");

    assert.equal((await env.admin("PATCH", "/api/v1/users/dora", { disabled: false })).status, 200);
    for (const [what, attempt] of tries) assert.equal((await attempt()).status, 200, `${what} after re-enabling`);
  });

  // ---------------------------------------------------------------- source addresses

  test(`a token limited by cidrs works only from inside its ranges (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    const mint = async (cidrs: string[]) => {
      const reply = await env.admin("POST", "/api/v1/auth/tokens", { name: "cidr", cidrs });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return reply.body.token as string;
    };
    const tenNet = await mint(["10.0.0.0/8"]);
    const loopback = await mint(["127.0.0.0/8"]);
    assertError(await env.call("GET", secrets(), { token: tenNet }), 403, "ACCESS_DENIED", "10.0.0.0/8 from 127.0.0.1");
    assertError(await env.call("GET", secrets(), { token: tenNet, headers: { "x-forwarded-for": "10.1.2.3" } }), 403, "ACCESS_DENIED", "a forged X-Forwarded-For does not help");
    assert.equal((await env.call("GET", secrets(), { token: loopback })).status, 200, "127.0.0.0/8 from 127.0.0.1");
    assert.equal((await env.call("GET", secrets(), { token: tenNet, remoteAddress: "10.1.2.3" })).status, 200, "10.0.0.0/8 from 10.1.2.3");
    assertError(await env.call("GET", secrets(), { token: loopback, remoteAddress: "10.1.2.3" }), 403, "ACCESS_DENIED", "127.0.0.0/8 from 10.1.2.3");
  });
  // ---------------------------------------------------------------- scope patterns, levels, everyone

  test(`a token's patterns hide the names they do not match and its level caps what its identity may do (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    for (const name of ["OPENAI_KEY", "OPENAI_ORG", "db/password"]) {
      assert.equal((await env.admin("POST", secrets(), { name, data: { v: CANARY } })).status, 201);
    }
    const minted = await env.admin("POST", "/api/v1/auth/tokens", { name: "narrow", secrets: ["OPENAI_*"], access: "read" });
    assert.equal(minted.status, 201, JSON.stringify(minted.body));
    const narrow = env.as(minted.body.token);
    assert.equal((await narrow("GET", secret("OPENAI_KEY"))).status, 200);
    assertError(await narrow("GET", secret("db/password")), 404, "SECRET_NOT_FOUND", "a name outside the patterns is hidden, not forbidden");
    assertError(await narrow("GET", `${secret("db/password")}/versions`), 404, "SECRET_NOT_FOUND", "its versions too");
    assert.deepEqual((await narrow("GET", secrets())).body.items.map((s: { name: string }) => s.name), ["OPENAI_KEY", "OPENAI_ORG"]);
    assertError(await narrow("PATCH", secret("OPENAI_KEY"), { data: { v: "x" } }), 403, "ACCESS_DENIED", "a read-only token of an administrator cannot write");
    assertError(await narrow("POST", "/api/v1/users", { username: "sneaky" }), 403, "ACCESS_DENIED", "a narrowed administrator token is no administrator");
    assertError(await narrow("POST", "/api/v1/auth/tokens", { name: "wider" }), 403, "ACCESS_DENIED", "nor mints independent tokens");
  });

  test(`a grant to the built-in everyone group reaches every member and service account of the workspace, and no one else (${store.kind})`, async (t) => {
    const env = await setup(t, store);
    if (!env) return;
    await env.addUser("evan", { password: PASSWORD, role: "member" });
    await env.addUser("otto", { password: PASSWORD });
    assert.equal((await env.admin("POST", "/api/v1/workspaces", { name: "elsewhere" })).status, 201);
    assert.equal((await env.admin("PUT", "/api/v1/workspaces/elsewhere/members/otto", { role: "admin" })).status, 200);
    assert.equal((await env.admin("POST", "/api/v1/workspaces/default/service-accounts", { name: "bot" })).status, 201);
    const bot = (await env.admin("POST", "/api/v1/workspaces/default/service-accounts/bot/tokens", {})).body.token as string;
    assert.equal((await env.admin("POST", secrets(), { name: "team/wide", data: { v: CANARY } })).status, 201);
    const evan = env.as((await env.login("evan")).token);
    const otto = env.as((await env.login("otto")).token);
    assertError(await evan("GET", secret("team/wide")), 404, "SECRET_NOT_FOUND", "before the grant");
    assert.equal((await env.admin("PUT", `${secret("team/wide")}/grants/group:everyone`, { level: "read" })).status, 200);
    assert.equal((await evan("GET", secret("team/wide"))).body.data.v, CANARY);
    assert.equal((await env.as(bot)("GET", secret("team/wide"))).body.data.v, CANARY);
    assertError(await evan("PATCH", secret("team/wide"), { data: { v: "x" } }), 403, "ACCESS_DENIED", "read is not write");
    assertError(await otto("GET", secret("team/wide")), 404, "WORKSPACE_NOT_FOUND", "another workspace's admin");
    assertError(await env.admin("DELETE", "/api/v1/workspaces/default/groups/everyone"), 400, "INVALID_REQUEST", "everyone cannot be removed");
  });
}

// ---------------------------------------------------------------- two nodes, one PostgreSQL// ---------------------------------------------------------------- two nodes, one PostgreSQL

test("disabling a user on one node stops its tokens on another node sharing the PostgreSQL within 2 s, and re-enabling restores them", async (t) => {
  const postgres = STORES.find((store) => store.kind === "postgres")!;
  const target = await postgres.open(t);
  if (!target) return;
  const env = { COFFER_ROOT_KEY: randomBytes(32).toString("base64") };
  const nodeA = await startServer(t, target, env);
  t.after(() => nodeA.stop());
  const nodeB = await startServer(t, { ...target, dataDir: tempDir() }, env);
  t.after(() => nodeB.stop());
  assert.ok(nodeA.token, "node A initialised the store");
  assert.equal(nodeB.token, null, "node B joined it");
  const adminA = client(nodeA.url, nodeA.token);

  assert.equal((await adminA("POST", "/api/v1/users", { username: "nora", password: PASSWORD })).status, 201);
  assert.equal((await adminA("PUT", "/api/v1/workspaces/default/members/nora", { role: "member" })).status, 200);
  assert.equal((await adminA("POST", secrets(), { name: "team/db", data: { password: CANARY } })).status, 201);
  assert.equal((await adminA("PUT", `${secret("team/db")}/grants/user:nora`, { level: "read" })).status, 200);
  const session = (await client(nodeA.url, null)("POST", "/api/v1/auth/login", { username: "nora", password: PASSWORD })).body.token as string;
  const api = (await client(nodeA.url, session)("POST", "/api/v1/auth/tokens", { name: "ci" })).body.token as string;

  const onB = (token: string) => client(nodeB.url, token)("GET", secret("team/db"));
  for (const token of [session, api]) {
    // Twice: the second read is served from node B's caches.
    assert.equal((await onB(token)).status, 200);
    const read = await onB(token);
    assert.equal(read.status, 200);
    assert.equal(read.body.data.password, CANARY);
  }

  const until = async (want: number, what: string): Promise<number> => {
    const start = performance.now();
    for (;;) {
      const statuses = await Promise.all([onB(session), onB(api)]);
      if (statuses.every((reply) => reply.status === want)) return performance.now() - start;
      if (performance.now() - start > 2000) assert.fail(`${what}: node B still answers ${statuses.map((r) => r.status).join(", ")} after 2 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  assert.equal((await adminA("PATCH", "/api/v1/users/nora", { disabled: true })).status, 200);
  t.diagnostic(`node B refused the disabled user's tokens after ${Math.round(await until(401, "disabled on node A"))} ms`);
  const refused = await onB(api);
  assert.equal(refused.body.error.code, "UNAUTHENTICATED");
  assert.equal((await adminA("PATCH", "/api/v1/users/nora", { disabled: false })).status, 200);
  t.diagnostic(`node B accepted them again after ${Math.round(await until(200, "re-enabled on node A"))} ms`);
});
