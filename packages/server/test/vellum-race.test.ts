/**
 * Vellum's PATCH under concurrent writers, on SQLite and PostgreSQL: its
 * "one key" check and its write are one check-and-set on the version it
 * replaces, so a concurrent write is neither lost nor mixed into it.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { STORES, type StoreTarget } from "./support/stores.ts";

const SECRETS = "/api/v1/workspaces/default/secrets";

async function world(t: TestContext, target: StoreTarget) {
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const admin = coffer.bootstrapToken!;
  const call = async (method: "GET" | "PUT" | "PATCH" | "POST", url: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${admin}` }) => {
    const reply = await app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: reply.statusCode, body: reply.json() };
  };
  const key = (await call("POST", "/api/v1/auth/tokens", { name: "vellum", workspace: "default" })).body.token as string;
  const vellum = (name: string, body: { label?: string; value?: string }) => call("PATCH", `/vellum/v1/workspace-secrets/${name}`, body, { "x-api-key": key });
  /** Every version still stored, oldest first, with its data. */
  const history = async (name: string) => {
    const versions = (await call("GET", `${SECRETS}/${name}/versions`)).body.versions as { version: number }[];
    const sorted = versions.map((entry) => entry.version).sort((a, b) => a - b);
    return Promise.all(sorted.map(async (version) => ({ version, data: (await call("GET", `${SECRETS}/${name}/versions/${version}`)).body.data as Record<string, string> })));
  };
  return { call, vellum, history };
}

for (const store of STORES) {
  test(`concurrent Vellum updates each land as one whole version: none lost, label and value never mixed (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const { call, vellum, history } = await world(t, target);
    assert.equal((await call("PUT", `${SECRETS}/race`, { data: { value: "v-start" }, label: "start" })).status, 201);
    assert.equal((await call("PATCH", `${SECRETS}/race/metadata`, { maxVersions: 100 })).status, 200);
    const writers = Array.from({ length: 8 }, (_, i) => i);
    const replies = await Promise.all(writers.map((i) => vellum("race", { label: `label-${i}`, value: `v-${i}` })));
    const landed = writers.filter((i) => replies[i]!.status === 200);
    for (const i of writers) {
      if (replies[i]!.status !== 200) assert.deepEqual([replies[i]!.status, replies[i]!.body.code], [409, "VERSION_CONFLICT"], "a writer that gives up says so");
    }
    assert.ok(landed.length >= 2, "writers really ran together and landed");
    const versions = await history("race");
    // Each answered write is exactly one new version holding its own value: nothing lost, nothing doubled.
    assert.equal(versions.length, 1 + landed.length);
    assert.deepEqual(versions.slice(1).map((entry) => entry.data.value).sort(), landed.map((i) => `v-${i}`).sort());
    for (const entry of versions) assert.deepEqual(Object.keys(entry.data), ["value"]);
    // The last writer's label and value travel together.
    const current = (await call("GET", `${SECRETS}/race`)).body;
    assert.equal(current.label, `label-${current.data.value.slice(2)}`);
  });

  test(`a Vellum value never mixes into a secret a concurrent write gave a second key (${store.kind})`, async (t) => {
    const target = await store.open(t);
    if (!target) return;
    const { call, vellum, history } = await world(t, target);
    assert.equal((await call("PUT", `${SECRETS}/mix`, { data: { value: "base" } })).status, 201);
    assert.equal((await call("PATCH", `${SECRETS}/mix/metadata`, { maxVersions: 1000 })).status, 200);
    const outcomes = { vellumFirst: 0, nativeFirst: 0 };
    for (let round = 0; round < 20; round++) {
      const [fromVellum, native] = await Promise.all([
        vellum("mix", { value: `vellum-${round}` }),
        call("PATCH", `${SECRETS}/mix`, { data: { extra: `extra-${round}` } }),
      ]);
      assert.equal(native.status, 200, JSON.stringify(native.body));
      if (fromVellum.status === 200) outcomes.vellumFirst++;
      else {
        assert.deepEqual([fromVellum.status, fromVellum.body.code], [400, "INVALID_SECRET_TYPE"]);
        outcomes.nativeFirst++;
      }
      // Back to one key for the next round.
      assert.equal((await call("PUT", `${SECRETS}/mix`, { data: { value: "base" } })).status, 200);
    }
    // The version that first holds a Vellum value is Vellum's own write: it holds that one key, never the other writer's too.
    const versions = await history("mix");
    for (let round = 0; round < 20; round++) {
      const first = versions.find((entry) => entry.data.value === `vellum-${round}`);
      if (first) assert.deepEqual(Object.keys(first.data), ["value"], `round ${round}: Vellum's write mixed with the other writer's key`);
    }
    assert.equal(outcomes.vellumFirst + outcomes.nativeFirst, 20);
    assert.equal(versions.filter((entry) => entry.data.value?.startsWith("vellum-") && Object.keys(entry.data).length === 1).length, outcomes.vellumFirst);
  });
}
