/**
 * The read path's cache of decrypted secrets (--secret-cache) is bounded:
 * turned off (0) or smaller than what is read, every read still answers the
 * value of the last write answered before it, by name and by id; so with
 * values that weigh more than one secret each (a secret counts once per KiB).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { STORES } from "./support/stores.ts";

const SECRETS = "/api/v1/workspaces/default/secrets";

for (const store of STORES) {
  for (const [secretCache, bytes] of [[0, 2], [1, 2], [1, 3000], [3, 1500]] as const) {
    test(`reads answer the latest ${bytes}-byte value with --secret-cache ${secretCache} (${store.kind})`, async (t) => {
      const target = await store.open(t);
      if (!target) return;
      const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, secretCache });
      t.after(() => coffer.close());
      const app = await buildApp(coffer);
      t.after(() => app.close());
      const call = async (method: "GET" | "POST" | "PUT", url: string, body?: object) => {
        const reply = await app.inject({ method, url, headers: { authorization: `Bearer ${coffer.bootstrapToken!}` }, ...(body === undefined ? {} : { payload: body }) });
        assert.ok(reply.statusCode < 300, `${method} ${url}: ${reply.statusCode} ${reply.body}`);
        return reply.json() as { id: string; data: Record<string, string> };
      };
      const value = (text: string) => text.padEnd(bytes, "-");
      const ids: Record<string, string> = {};
      for (const name of ["a", "b", "c"]) ids[name] = (await call("POST", SECRETS, { name, data: { value: value(`${name}1`) } })).id;
      for (let round = 2; round <= 3; round++) {
        for (const name of ["a", "b", "c"]) {
          assert.equal((await call("GET", `${SECRETS}/${name}`)).data.value, value(`${name}${round - 1}`));
          assert.equal((await call("GET", `${SECRETS}/${ids[name]}`)).data.value, value(`${name}${round - 1}`));
        }
        for (const name of ["a", "b", "c"]) await call("PUT", `${SECRETS}/${name}`, { data: { value: value(`${name}${round}`) } });
      }
      for (const name of ["c", "b", "a"]) assert.equal((await call("GET", `${SECRETS}/${ids[name]}`)).data.value, value(`${name}3`));
    });
  }
}
