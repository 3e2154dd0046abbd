/**
 * First start: under the store lock, so of several nodes starting on one
 * empty PostgreSQL exactly one initialises it. Creates the first data key,
 * the admin user, the default workspace and a bootstrap token, which is
 * returned once for the operator to see and stored only as its hash.
 */
import type { Clock } from "../core/clock.ts";
import { newId } from "../crypto/generate.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { mintToken } from "../identity/token.service.ts";
import { FULL_SCOPE } from "../identity/token-scope.ts";
import { insertDataKey } from "../keys/keys.repository.ts";
import type { Database, Store } from "../store/store.ts";
import { everyoneGroup, INITIAL_SETTINGS } from "../workspace/workspace.service.ts";
import { insertGroup, insertMembership, insertWorkspace } from "../workspace/workspace.repository.ts";

export const DEFAULT_WORKSPACE = "default";
export const ADMIN_USERNAME = "admin";

/** Returns null when the store was initialised already. `alsoInTransaction` records how the root key is kept (Shamir). */
export async function initializeStore(
  store: Store,
  keyring: Keyring,
  clock: Clock,
  alsoInTransaction: (trx: Database) => Promise<void> = async () => {},
): Promise<{ bootstrapToken: string } | null> {
  return store.dialect.withStoreLock(store.db, (db) =>
    db.transaction().execute(async (trx) => {
      const done = await trx.selectFrom("meta").select("value").where("key", "=", "initialized_at").executeTakeFirst();
      if (done) return null;
      const now = clock();
      await insertDataKey(trx, { ...keyring.wrapNewDataKey(1), createdAt: now });
      const userId = newId("usr");
      await trx.insertInto("users").values({ id: userId, username: ADMIN_USERNAME, passwordHash: null, isAdmin: 1, disabledAt: null, createdAt: now }).execute();
      const workspaceId = newId("ws");
      await insertWorkspace(trx, { id: workspaceId, name: DEFAULT_WORKSPACE, ...INITIAL_SETTINGS, readsPerSecond: null, writesPerSecond: null, createdAt: now });
      await insertGroup(trx, everyoneGroup(workspaceId, now));
      await insertMembership(trx, { workspaceId, userId, role: "owner", createdAt: now });
      const { token: bootstrapToken } = await mintToken(trx, { principalId: userId, parentId: null, kind: "api", name: "bootstrap", scope: FULL_SCOPE, expiresAt: null, now });
      await alsoInTransaction(trx);
      await trx.insertInto("meta").values({ key: "initialized_at", value: new Date(now).toISOString() }).execute();
      return { bootstrapToken };
    }),
  );
}
