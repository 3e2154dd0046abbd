/**
 * Lists answered from the summaries a node keeps in memory (the embedded
 * store) show every write answered before them, of every kind, and a
 * namespace larger than the cache is listed from the store with the same
 * pages. On PostgreSQL, where another node's write reaches the cache late, the same
 * expectations hold.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test, type TestContext } from "node:test";
import type { SecretSummary } from "@coffer/protocol";
import pg from "pg";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { LISTEN_APPLICATION_NAME } from "../src/store/changes.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { slowLink } from "./support/slow-link.ts";
import { STORES, tempDir, type StoreTarget } from "./support/stores.ts";

const WS = "/api/v1/workspaces/default";
const SECRETS = `${WS}/secrets`;

/** A node on `target`; a node joining a store another node set up is given its root key and a token. */
async function world(t: TestContext, target: StoreTarget, options: { listCacheSecrets?: number; rootKey?: string; token?: string } = {}) {
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, listCacheSecrets: options.listCacheSecrets, rootKey: options.rootKey });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const token = options.token ?? coffer.bootstrapToken!;
  const call = async (method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE", url: string, body?: unknown) => {
    const reply = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
    assert.ok(reply.statusCode < 300, `${method} ${url}: ${reply.statusCode} ${reply.body}`);
    return reply.body ? reply.json() : undefined;
  };
  const list = async (query = "") => (await call("GET", `${SECRETS}${query}`)) as { items: SecretSummary[]; folders: string[]; nextCursor: string | null };
  const item = async (name: string, query = "?deleted=include") => (await list(query)).items.find((summary) => summary.name === name);
  return { call, list, item, token };
}

test("a list on one node shows every write another node answered before it, though that node's notifications come late (postgres)", async (t) => {
  const target = await STORES.find((store) => store.kind === "postgres")!.open(t);
  if (!target) return;
  const rootKey = randomBytes(32).toString("base64");
  const writer = await world(t, target, { rootKey });
  // The lister's link to PostgreSQL delivers everything 100 ms late: each write's notification reaches it long after the writer answered.
  const link = await slowLink(target.databaseUrl!, 100);
  t.after(() => link.close());
  const lister = await world(t, { ...target, dataDir: tempDir(), databaseUrl: link.url }, { rootKey, token: writer.token });
  const names = async () => (await lister.list("?prefix=app%2F")).items.map((summary) => summary.name);
  await writer.call("POST", SECRETS, { name: "app/kept", data: { value: "v" } });
  assert.deepEqual(await names(), ["app/kept"]);
  for (let round = 1; round <= 5; round++) {
    await writer.call("POST", SECRETS, { name: `app/new-${round}`, data: { value: "v" } });
    assert.deepEqual(await names(), ["app/kept", `app/new-${round}`], `round ${round}: a created secret`);
    await writer.call("PUT", `${SECRETS}/app%2Fkept`, { data: { value: String(round) }, label: `round ${round}` });
    const kept = await lister.item("app/kept");
    assert.deepEqual([kept?.version, kept?.label], [round + 1, `round ${round}`], `round ${round}: an updated secret`);
    await writer.call("DELETE", `${SECRETS}/app%2Fnew-${round}`);
    assert.deepEqual(await names(), ["app/kept"], `round ${round}: a deleted secret`);
  }
  // Without its notifications (the listening connections killed), the lister answers from the store.
  const admin = new pg.Client({ connectionString: target.databaseUrl });
  await admin.connect();
  await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and datname = current_database()", [LISTEN_APPLICATION_NAME]);
  await admin.end();
  await writer.call("POST", SECRETS, { name: "app/while-deaf", data: { value: "v" } });
  assert.deepEqual(await names(), ["app/kept", "app/while-deaf"], "a write while the lister's feed is down");
});

for (const store of STORES) {
  test(`a list shows every write answered before it (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const { call, list, item } = await world(t, target);
    await call("POST", SECRETS, { name: "app/db", data: { user: "u", password: "p" }, label: "db", tags: ["prod"] });
    await call("POST", SECRETS, { name: "app/api", data: { value: "v" } });
    // The first list loads the namespace; everything after it changes what it loaded.
    assert.deepEqual((await list()).items.map((summary) => summary.name), ["app/api", "app/db"]);

    await call("POST", SECRETS, { name: "app/cache", data: { value: "v" } });
    assert.deepEqual((await list()).items.map((summary) => summary.name), ["app/api", "app/cache", "app/db"], "a created secret");

    await call("PUT", `${SECRETS}/app%2Fdb`, { data: { user: "u", password: "p", host: "h" } });
    assert.deepEqual([(await item("app/db"))?.version, (await item("app/db"))?.keys], [2, ["user", "password", "host"]], "a new version");

    await call("PATCH", `${SECRETS}/app%2Fdb`, { label: "database", tags: ["prod", "eu"] });
    assert.deepEqual([(await item("app/db"))?.label, (await item("app/db"))?.tags], ["database", ["prod", "eu"]], "new metadata");

    await call("PUT", `${WS}/rotation-defaults`, { defaults: [{ label: "database", intervalDays: 30 }] });
    assert.equal((await item("app/db"))?.rotation?.intervalDays, 30, "a workspace default that now applies");

    await call("DELETE", `${SECRETS}/app%2Fapi`);
    assert.deepEqual((await list()).items.map((summary) => summary.name), ["app/cache", "app/db"], "a deleted secret");
    assert.deepEqual((await list("?deleted=only")).items.map((summary) => summary.name), ["app/api"]);
    await call("POST", `${SECRETS}/app%2Fapi/restore`);
    assert.equal((await item("app/api", ""))?.deletedAt, null, "a restored secret");

    await call("DELETE", `${SECRETS}/app%2Fcache?permanent=true`);
    assert.deepEqual((await list("?deleted=include")).items.map((summary) => summary.name), ["app/api", "app/db"], "a destroyed secret");

    // A personal namespace is a namespace of its own.
    await call("POST", SECRETS, { name: "app/mine", scope: "personal", data: { value: "v" } });
    assert.deepEqual((await list("?scope=personal")).items.map((summary) => summary.name), ["app/mine"]);
    assert.deepEqual((await list()).items.map((summary) => summary.name), ["app/api", "app/db"]);
    // Folder counts fold the same summaries.
    assert.deepEqual((await call("GET", `${WS}/secret-folders`)).folders, [{ path: "app/", secrets: 2 }]);
    await call("POST", SECRETS, { name: "app/queue", data: { value: "v" } });
    assert.deepEqual((await call("GET", `${WS}/secret-folders`)).folders, [{ path: "app/", secrets: 3 }], "a created secret in its folder");
  });

  test(`a namespace larger than the list cache is listed from the store, page by page (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const { call, list } = await world(t, target, { listCacheSecrets: 4 });
    const names = ["a/1", "a/2", "b/1", "b/2", "b/3", "c"];
    for (const name of names) await call("POST", SECRETS, { name, data: { value: "v" } });
    await call("POST", SECRETS, { name: "mine", scope: "personal", data: { value: "v" } });
    for (const query of ["", "?prefix=b%2F", "?search=%2F2", "?recursive=false"]) {
      const seen: string[] = [];
      const folders: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await list(`${query}${query ? "&" : "?"}limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`);
        seen.push(...page.items.map((summary) => summary.name));
        folders.push(...page.folders);
        cursor = page.nextCursor;
      } while (cursor !== null);
      const expected = {
        "": { seen: names, folders: [] },
        "?prefix=b%2F": { seen: ["b/1", "b/2", "b/3"], folders: [] },
        "?search=%2F2": { seen: ["a/2", "b/2"], folders: [] },
        "?recursive=false": { seen: ["c"], folders: ["a/", "b/"] },
      }[query]!;
      assert.deepEqual({ seen, folders: [...new Set(folders)] }, expected, query);
    }
    // A small namespace still fits beside it, and shows its writes.
    assert.deepEqual((await list("?scope=personal")).items.map((summary) => summary.name), ["mine"]);
    await call("POST", SECRETS, { name: "mine-too", scope: "personal", data: { value: "v" } });
    assert.deepEqual((await list("?scope=personal")).items.map((summary) => summary.name), ["mine", "mine-too"]);
  });
}
