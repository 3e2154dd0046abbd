/** The tests of bounded caches: an app on a fresh store, its administrator and a second user, bob, logged in. */
import type { TestContext } from "node:test";
import { openCoffer, type CofferOptions } from "../../src/coffer.ts";
import { buildApp } from "../../src/http/app.ts";
import { TEST_RATE_LIMITS } from "./limits.ts";
import type { StoreKind } from "./stores.ts";

const PASSWORD = "correct horse battery staple";

/** A request as someone; answers the status code. */
export type Caller = (method: "GET" | "POST" | "PUT" | "DELETE", url: string, body?: object) => Promise<number>;

/** undefined where the store is not available here (PostgreSQL). */
export async function appWithBob(t: TestContext, store: StoreKind, options: Partial<CofferOptions>): Promise<{ admin: Caller; bob: Caller } | undefined> {
  const target = await store.open(t);
  if (!target) return undefined;
  const coffer = await openCoffer({ rateLimits: TEST_RATE_LIMITS, dataDir: target.dataDir, databaseUrl: target.databaseUrl, ...options });
  t.after(() => coffer.close());
  const app = await buildApp(coffer);
  t.after(() => app.close());
  const as =
    (token: string): Caller =>
    async (method, url, body) =>
      (await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body }) })).statusCode;
  const admin = as(coffer.bootstrapToken!);
  if ((await admin("POST", "/api/v1/users", { username: "bob", password: PASSWORD })) !== 201) throw new Error("could not create bob");
  const login = await app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username: "bob", password: PASSWORD } });
  return { admin, bob: as((login.json() as { token: string }).token) };
}
