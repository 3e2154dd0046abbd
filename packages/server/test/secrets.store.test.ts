/**
 * The secrets service against each store: every behaviour of issue #2's
 * secret lifecycle, run once on SQLite and once on PostgreSQL.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openCoffer, type Coffer } from "../src/coffer.ts";
import { DAY_MS } from "../src/core/clock.ts";
import type { SecretContext } from "../src/secret/secret.service.ts";
import { dumpTables } from "./support/postgres.ts";
import { STORES, type StoreTarget } from "./support/stores.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";

interface Harness {
  coffer: Coffer;
  ctx: SecretContext;
  target: StoreTarget;
  advance(days: number): void;
}

async function harness(t: TestContext, target: StoreTarget, existing?: { token: string }): Promise<Harness & { token: string }> {
  let offset = 0;
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, clock: () => Date.now() + offset });
  t.after(() => coffer.close());
  const token = existing?.token ?? coffer.bootstrapToken!;
  const principal = await coffer.auth.authenticate(token, "127.0.0.1");
  const ctx: SecretContext = await coffer.secrets.context(principal, "default");
  return { coffer, ctx, target, token, advance: (days) => (offset += days * DAY_MS) };
}

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string }) => {
    assert.equal(error.code, code);
    return true;
  });
}

for (const store of STORES) {
  const each = (name: string, body: (h: Harness, t: TestContext) => Promise<void>) =>
    test(`${name} (${store.kind})`, async (t) => {
      const target = await store.open(t);
      if (target) await body(await harness(t, target), t);
    });

  each("a secret is created, then read by name and by id with its keys, version and age", async ({ coffer, ctx }) => {
    const created = await coffer.secrets.create(ctx, { name: "database-config", data: { host: "db", port: "5432" }, label: "DB", tags: ["prod"] });
    assert.equal(created.version, 1);
    assert.equal(created.type, "USER_DEFINED");
    for (const ref of ["database-config", created.id]) {
      const read = await coffer.secrets.get(ctx, ref);
      assert.deepEqual(read.data, { host: "db", port: "5432" });
      assert.deepEqual(read.keys, ["host", "port"]);
      assert.equal(read.label, "DB");
      assert.deepEqual(read.tags, ["prod"]);
      assert.equal(read.ageDays, 0);
      assert.ok(read.createdAt && read.updatedAt);
    }
  });

  each("age counts whole days since the current value was written", async ({ coffer, ctx, advance }) => {
    await coffer.secrets.create(ctx, { name: "aging", data: { v: "1" } });
    advance(3);
    assert.equal((await coffer.secrets.get(ctx, "aging")).ageDays, 3);
    await coffer.secrets.replace(ctx, "aging", { v: "2" }, {});
    assert.equal((await coffer.secrets.get(ctx, "aging")).ageDays, 0);
  });

  each("replace writes a new version; merge keeps other keys and null removes one", async ({ coffer, ctx }) => {
    await coffer.secrets.create(ctx, { name: "svc", data: { a: "1", b: "2" } });
    const replaced = await coffer.secrets.replace(ctx, "svc", { c: "3" }, {});
    assert.equal(replaced.secret.version, 2);
    assert.deepEqual((await coffer.secrets.get(ctx, "svc")).data, { c: "3" });
    const merged = await coffer.secrets.patch(ctx, "svc", { d: "4", c: null }, {});
    assert.equal(merged.version, 3);
    assert.deepEqual((await coffer.secrets.get(ctx, "svc")).data, { d: "4" });
    const relabelled = await coffer.secrets.patch(ctx, "svc", undefined, { label: "Service", tags: ["x"] });
    assert.equal(relabelled.version, 3, "label and tags alone make no new version");
    assert.equal((await coffer.secrets.get(ctx, "svc")).label, "Service");
  });

  each("PUT of a new name creates it; a later PUT with another type is refused", async ({ coffer, ctx }) => {
    const first = await coffer.secrets.replace(ctx, "upserted", { k: "v" }, { upsert: true });
    assert.equal(first.created, true);
    const second = await coffer.secrets.replace(ctx, "upserted", { k: "w" }, { upsert: true });
    assert.equal(second.created, false);
    assert.equal(second.secret.version, 2);
    await rejects(coffer.secrets.replace(ctx, "upserted", { k: "x" }, { upsert: true, type: "HMAC" }), "INVALID_SECRET_TYPE");
  });

  each("check-and-set refuses a stale version and accepts the current one", async ({ coffer, ctx }) => {
    await coffer.secrets.create(ctx, { name: "cas", data: { v: "1" } });
    await coffer.secrets.replace(ctx, "cas", { v: "2" }, { cas: 1 });
    await rejects(coffer.secrets.replace(ctx, "cas", { v: "3" }, { cas: 1 }), "VERSION_CONFLICT");
    await rejects(coffer.secrets.patch(ctx, "cas", { v: "3" }, { cas: 1 }), "VERSION_CONFLICT");
    assert.deepEqual((await coffer.secrets.get(ctx, "cas")).data, { v: "2" });
  });

  each("versions are listed without values, old ones read back, and rollback writes a new version", async ({ coffer, ctx }) => {
    await coffer.secrets.create(ctx, { name: "hist", data: { v: "one" } });
    await coffer.secrets.replace(ctx, "hist", { v: "two", w: "x" }, {});
    const versions = await coffer.secrets.versions(ctx, "hist");
    assert.deepEqual(versions.map((v) => [v.version, v.keys, v.current]), [[2, ["v", "w"], true], [1, ["v"], false]]);
    assert.ok(!JSON.stringify(versions).includes("one"));
    assert.deepEqual((await coffer.secrets.get(ctx, "hist", 1)).data, { v: "one" });
    const rolled = await coffer.secrets.rollback(ctx, "hist", 1);
    assert.equal(rolled.version, 3);
    assert.deepEqual((await coffer.secrets.get(ctx, "hist")).data, { v: "one" });
    await rejects(coffer.secrets.get(ctx, "hist", 9), "VERSION_NOT_FOUND");
  });

  each("a workspace keeps at most maxVersions versions of each secret", async ({ coffer, ctx }) => {
    await coffer.workspaces.updateSettings(ctx.principal, "default", { maxVersions: 3 });
    const narrowed = await coffer.secrets.context(ctx.principal, "default");
    await coffer.secrets.create(narrowed, { name: "kept", data: { v: "1" } });
    for (let v = 2; v <= 5; v++) await coffer.secrets.replace(narrowed, "kept", { v: String(v) }, {});
    assert.deepEqual((await coffer.secrets.versions(narrowed, "kept")).map((v) => v.version), [5, 4, 3]);
    await rejects(coffer.secrets.get(narrowed, "kept", 1), "VERSION_NOT_FOUND");
    await rejects(coffer.secrets.rollback(narrowed, "kept", 2), "VERSION_NOT_FOUND");
  });

  each("lists page in name order, filter by name, and fold sub-folders", async ({ coffer, ctx }) => {
    for (let i = 0; i < 25; i++) await coffer.secrets.create(ctx, { name: `app/item-${String(i).padStart(2, "0")}`, data: { v: "x" } });
    await coffer.secrets.create(ctx, { name: "app/deep/one", data: { v: "x" } });
    await coffer.secrets.create(ctx, { name: "Other-Thing", data: { v: "x" } });
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await coffer.secrets.list(ctx, { prefix: "app/", limit: 10, cursor });
      names.push(...page.items.map((s) => s.name));
      for (const item of page.items) assert.equal((item as { data?: unknown }).data, undefined, "lists never carry values");
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    assert.equal(names.length, 26);
    assert.deepEqual(names, [...names].sort());
    assert.equal(pages, 3);
    const shallow = await coffer.secrets.list(ctx, { prefix: "app/", recursive: false });
    assert.deepEqual(shallow.folders, ["app/deep/"]);
    assert.equal(shallow.items.length, 25);
    const found = await coffer.secrets.list(ctx, { search: "other-t" });
    assert.deepEqual(found.items.map((s) => s.name), ["Other-Thing"]);
    const underscore = await coffer.secrets.list(ctx, { search: "_" });
    assert.deepEqual(underscore.items, [], "LIKE wildcards in a search are literal");
  });

  each("soft-delete hides a secret and keeps its name; restore brings it back; destroy frees the name", async ({ coffer, ctx }) => {
    await coffer.secrets.create(ctx, { name: "temp", data: { v: "1" } });
    await coffer.secrets.get(ctx, "temp");
    await coffer.secrets.softDelete(ctx, "temp");
    await rejects(coffer.secrets.get(ctx, "temp"), "SECRET_NOT_FOUND");
    assert.equal((await coffer.secrets.list(ctx, {})).items.length, 0);
    assert.equal((await coffer.secrets.list(ctx, { deleted: "only" })).items[0]?.name, "temp");
    await rejects(coffer.secrets.create(ctx, { name: "temp", data: { v: "2" } }), "SECRET_ALREADY_EXISTS");
    await rejects(coffer.secrets.replace(ctx, "temp", { v: "2" }, {}), "SECRET_NOT_FOUND");
    const restored = await coffer.secrets.restore(ctx, "temp");
    assert.equal(restored.deletedAt, null);
    assert.deepEqual((await coffer.secrets.get(ctx, "temp")).data, { v: "1" });
    await coffer.secrets.softDelete(ctx, "temp");
    const revived = await coffer.secrets.replace(ctx, "temp", { v: "revived" }, { upsert: true });
    assert.equal(revived.created, false, "a PUT to a soft-deleted name brings the secret back");
    assert.equal(revived.secret.version, 2);
    assert.deepEqual((await coffer.secrets.get(ctx, "temp")).data, { v: "revived" });
    await coffer.secrets.destroy(ctx, "temp");
    await rejects(coffer.secrets.get(ctx, "temp"), "SECRET_NOT_FOUND");
    await rejects(coffer.secrets.versions(ctx, "temp"), "SECRET_NOT_FOUND");
    const again = await coffer.secrets.create(ctx, { name: "temp", data: { v: "3" } });
    assert.equal(again.version, 1);
  });

  each("HMAC and INTERNAL_API_KEY values are generated when none is given", async ({ coffer, ctx }) => {
    const hmac = await coffer.secrets.create(ctx, { name: "signing", type: "HMAC" });
    assert.match(hmac.data.value!, /^[A-Za-z0-9_-]{43}$/);
    const key = await coffer.secrets.create(ctx, { name: "svc-key", type: "INTERNAL_API_KEY" });
    assert.match(key.data.value!, /^cfk_[0-9A-Za-z]{49}$/);
    const given = await coffer.secrets.create(ctx, { name: "given", type: "HMAC", data: { value: "mine" } });
    assert.deepEqual(given.data, { value: "mine" });
    await rejects(coffer.secrets.create(ctx, { name: "typo", type: "HMACK", data: { v: "1" } }), "INVALID_SECRET_TYPE");
  });

  each("bad names, empty data, too many keys and oversized payloads are refused and change nothing", async ({ coffer, ctx }) => {
    for (const name of ["", "a//b", "/a", "a/", "a/../b", ".", "..", "a b", "x".repeat(257), "ünïcode"]) {
      await rejects(coffer.secrets.create(ctx, { name, data: { v: "1" } }), "INVALID_REQUEST");
    }
    await rejects(coffer.secrets.create(ctx, { name: "empty", data: {} }), "INVALID_REQUEST");
    await rejects(coffer.secrets.create(ctx, { name: "badkey", data: { "a b": "1" } }), "INVALID_REQUEST");
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, "v"]));
    await rejects(coffer.secrets.create(ctx, { name: "many", data: many }), "INVALID_REQUEST");
    await rejects(coffer.secrets.create(ctx, { name: "big", data: { v: "x".repeat(64 * 1024) } }), "PAYLOAD_TOO_LARGE");
    await coffer.secrets.create(ctx, { name: "ok", data: { v: "1" } });
    await rejects(coffer.secrets.replace(ctx, "ok", { v: "x".repeat(64 * 1024) }, {}), "PAYLOAD_TOO_LARGE");
    assert.deepEqual((await coffer.secrets.list(ctx, {})).items.map((s) => [s.name, s.version]), [["ok", 1]]);
  });

  each("writes made at once to one secret each make a version of their own", async ({ coffer, ctx }) => {
    // Three times the attempts a write makes before it gives up on a secret others keep moving: one batch holds them all.
    const WRITERS = 24;
    await coffer.secrets.create(ctx, { name: "busy", data: { start: "0" } });
    const replaced = await Promise.all(Array.from({ length: WRITERS }, (_, i) => coffer.secrets.replace(ctx, "busy", { n: String(i) }, {})));
    assert.deepEqual(
      replaced.map(({ secret }) => secret.version).toSorted((a, b) => a - b),
      Array.from({ length: WRITERS }, (_, i) => i + 2),
      "each write made a version of its own",
    );
    const read = await coffer.secrets.get(ctx, "busy");
    assert.equal(read.version, WRITERS + 1);
    assert.deepEqual(read.data, replaced.find(({ secret }) => secret.version === WRITERS + 1)!.secret.data, "the last version holds the last write's value");
  });

  each("creates made at once of one name: one makes the secret, the others are told it exists, and creates of other names go through", async ({ coffer, ctx }) => {
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 6 }, (_, i) => coffer.secrets.create(ctx, { name: "contested", data: { v: String(i) } })),
      ...Array.from({ length: 6 }, (_, i) => coffer.secrets.create(ctx, { name: `free-${i}`, data: { v: String(i) } })),
    ]);
    const contested = outcomes.slice(0, 6);
    assert.equal(contested.filter((outcome) => outcome.status === "fulfilled").length, 1, "one create of the name won");
    for (const outcome of contested) if (outcome.status === "rejected") assert.equal((outcome.reason as { code?: string }).code, "SECRET_ALREADY_EXISTS");
    assert.deepEqual(outcomes.slice(6).map((outcome) => outcome.status), Array(6).fill("fulfilled"));
    const won = (contested.find((outcome) => outcome.status === "fulfilled") as PromiseFulfilledResult<{ data: unknown }>).value;
    assert.deepEqual((await coffer.secrets.get(ctx, "contested")).data, won.data, "the secret holds the winner's value");
  });

  each("patches made at once to one secret lose no key", async ({ coffer, ctx }) => {
    // More writers than the versions a secret keeps: a patch may start from a row whose version is pruned by the time it runs.
    const WRITERS = 24;
    await coffer.secrets.create(ctx, { name: "patched", data: { start: "0" } });
    await Promise.all(Array.from({ length: WRITERS }, (_, i) => coffer.secrets.patch(ctx, "patched", { [`k${i}`]: String(i) }, {})));
    const read = await coffer.secrets.get(ctx, "patched");
    assert.equal(read.version, WRITERS + 1);
    for (let i = 0; i < WRITERS; i++) assert.equal(read.data[`k${i}`], String(i), `patch ${i}'s key is there`);
  });

  each("personal secrets live in their own namespace, apart from shared ones", async ({ coffer, ctx }) => {
    const personal = { ...ctx, scope: "personal" as const };
    await coffer.secrets.create(personal, { name: "mine", data: { v: "p" } });
    await coffer.secrets.create(ctx, { name: "mine", data: { v: "s" } });
    assert.deepEqual((await coffer.secrets.get(personal, "mine")).data, { v: "p" });
    assert.deepEqual((await coffer.secrets.get(ctx, "mine")).data, { v: "s" });
    assert.deepEqual((await coffer.secrets.list(personal, {})).items.map((s) => s.scope), ["personal"]);
  });

  each("a ciphertext copied onto another secret's row is refused as an integrity error", async ({ coffer, ctx, target }, t) => {
    const a = await coffer.secrets.create(ctx, { name: "victim-a", data: { v: "value-of-a" } });
    const b = await coffer.secrets.create(ctx, { name: "victim-b", data: { v: "value-of-b" } });
    const db = coffer.store.db;
    const row = await db.selectFrom("secretVersions").select("ciphertext").where("secretId", "=", a.id).executeTakeFirstOrThrow();
    await db.updateTable("secretVersions").set({ ciphertext: row.ciphertext }).where("secretId", "=", b.id).execute();
    await coffer.close();
    // A second process with cold caches reads what the attacker left in the store.
    const fresh = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl });
    t.after(() => fresh.close());
    const freshCtx = await fresh.secrets.context(ctx.principal, "default");
    await rejects(fresh.secrets.get(freshCtx, "victim-b"), "INTEGRITY_ERROR");
    assert.deepEqual((await fresh.secrets.get(freshCtx, "victim-a")).data, { v: "value-of-a" });
  });

  each("at rest, the store holds no value in clear, base64 or hex", async ({ coffer, ctx, target }) => {
    const canary = `canary-${Math.random().toString(36).slice(2)}-plaintext-value`;
    await coffer.secrets.create(ctx, { name: "at-rest", data: { password: canary } });
    await coffer.secrets.replace(ctx, "at-rest", { password: canary, other: canary }, {});
    const forms = [canary, Buffer.from(canary).toString("base64"), Buffer.from(canary).toString("base64url"), Buffer.from(canary).toString("hex")];
    let haystack: string;
    if (target.kind === "sqlite") {
      haystack = readdirSync(target.dataDir)
        .filter((file) => file.startsWith("coffer.db"))
        .map((file) => readFileSync(join(target.dataDir, file)).toString("latin1"))
        .join("\n");
      assert.ok(haystack.includes("at-rest"), "the check reads the right files");
    } else {
      haystack = await dumpTables(target.databaseUrl!);
      assert.ok(haystack.includes("at-rest"), "the dump holds the secret's row");
    }
    for (const form of forms) assert.ok(!haystack.includes(form), `the store contains the value as ${form === canary ? "plain text" : "an encoding"}`);
  });
}
