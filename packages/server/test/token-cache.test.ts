/**
 * The principals a node holds by token (--token-cache) are bounded: turned
 * off (0) or holding fewer tokens than are in use, each token still
 * authenticates as its own user, and a revoked one is refused at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { openCoffer } from "../src/coffer.ts";
import { buildApp } from "../src/http/app.ts";
import { TEST_RATE_LIMITS } from "./support/limits.ts";
import { STORES } from "./support/stores.ts";

const PASSWORD = "correct horse battery staple";

for (const store of STORES) {
  for (const tokenCache of [0, 1]) {
    test(`tokens authenticate as their own users and revocation holds with --token-cache ${tokenCache} (${store.kind})`, async (t) => {
      const target = await store.open(t);
      if (!target) return;
      const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, tokenCache });
      t.after(() => coffer.close());
      const app = await buildApp(coffer);
      t.after(() => app.close());
      const call = (token: string, method: "GET" | "POST", url: string) => app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
      const admin = coffer.bootstrapToken!;
      const tokens: Record<string, string> = { admin };
      for (const username of ["bob", "eve"]) {
        assert.equal((await app.inject({ method: "POST", url: "/api/v1/users", headers: { authorization: `Bearer ${admin}` }, payload: { username, password: PASSWORD } })).statusCode, 201);
        tokens[username] = ((await app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username, password: PASSWORD } })).json() as { token: string }).token;
      }
      for (let round = 0; round < 2; round++) {
        for (const [username, token] of Object.entries(tokens)) {
          const self = await call(token, "GET", "/api/v1/auth/token/self");
          assert.equal(self.statusCode, 200);
          assert.match(self.body, new RegExp(`"${username}"`));
        }
      }
      assert.equal((await call(tokens.bob!, "POST", "/api/v1/auth/logout")).statusCode, 204);
      assert.equal((await call(tokens.bob!, "GET", "/api/v1/auth/token/self")).statusCode, 401);
      assert.equal((await call(tokens.eve!, "GET", "/api/v1/auth/token/self")).statusCode, 200);
    });
  }
}
