/**
 * Seeds the store the bench runs on directly through the store layer, before
 * any server starts: thousands of secrets through the API would take minutes
 * and measure the API, not fill the store. Every secret is sealed by the
 * keyring as a write through the API would seal it, so the servers read them
 * as any other.
 *
 * Workspace 'default' holds the list secrets (bench/…), the read secret and
 * up to DEEP_SECRETS under deep/; with more secrets asked for, the rest go to
 * 99 further workspaces with USERS members and a read grant on every secret.
 */
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { openCoffer } from "../packages/server/src/coffer.ts";
import { newId } from "../packages/server/src/crypto/generate.ts";
import type { Database } from "../packages/server/src/store/store.ts";
import type { Tables } from "../packages/server/src/store/tables.ts";
import { everyoneGroup, INITIAL_SETTINGS } from "../packages/server/src/workspace/workspace.service.ts";

export const LIST_PREFIX = "bench/";
export const LIST_SECRETS = 150;
export const READ_SECRET = "bench-read";
export const DEEP_PREFIX = "deep/";
/** The most secrets 'default' holds under deep/; more go to other workspaces. */
export const DEEP_SECRETS = 10_000;
const WORKSPACES = 100;
const USERS = 1000;
const BATCH = 500;

export function listName(index: number): string {
  return `${LIST_PREFIX}s-${String(index).padStart(3, "0")}`;
}

export function deepName(index: number): string {
  return `${DEEP_PREFIX}s-${String(index).padStart(6, "0")}`;
}

export interface Seeded {
  token: string;
  /** Secrets under deep/ in 'default', and in 'default' in all. */
  deepSecrets: number;
  workspaceSecrets: number;
}

export async function seedStore(options: { dataDir: string; databaseUrl: string | undefined; secrets: number }): Promise<Seeded> {
  const coffer = await openCoffer({ dataDir: options.dataDir, databaseUrl: options.databaseUrl, rotationJobEveryMs: 0, audit: { mode: "off", retentionDays: 0 } });
  try {
    const token = coffer.bootstrapToken;
    if (!token) throw new Error("the bench store is not empty");
    const db = coffer.store.db;
    const now = Date.now();
    const admin = await db.selectFrom("users").select("id").where("username", "=", "admin").executeTakeFirstOrThrow();
    const defaultWs = await db.selectFrom("workspaces").select("id").where("name", "=", "default").executeTakeFirstOrThrow();
    const deepSecrets = Math.min(options.secrets, DEEP_SECRETS);
    const sealed = (workspaceId: string, name: string) => {
      const id = newId("sec");
      const plaintext = Buffer.from(JSON.stringify({ value: randomBytes(75).toString("base64url") }));
      const ciphertext = coffer.keys.seal({ workspaceId, secretId: id, version: 1 }, plaintext);
      const secret: Tables["secrets"] = {
        id, workspaceId, scope: "shared", ownerId: "", name, type: "USER_DEFINED", label: name, tags: "[]", currentVersion: 1,
        createdAt: now, createdBy: admin.id, updatedAt: now, updatedBy: admin.id, deletedAt: null, deletedBy: null, approval: "none",
        rotationIntervalDays: null, autoRotate: 0, casRequired: 0, maxVersions: null, deleteVersionAfter: 0, customMetadata: "{}", relayPolicy: null,
        canary: 0, expiresAt: null, expiryWarnedAt: null, lastUsedAt: null, unusedAlertedAt: null,
      };
      const version: Tables["secretVersions"] = {
        secretId: id, version: 1, workspaceId, ciphertext, keyVersion: coffer.keys.keyVersion, keys: '["value"]',
        createdAt: now, createdBy: admin.id, deletedAt: null, destroyedAt: null,
      };
      return { secret, version };
    };
    const names = [READ_SECRET, ...Array.from({ length: LIST_SECRETS }, (_, i) => listName(i)), ...Array.from({ length: deepSecrets }, (_, i) => deepName(i))];
    await insertSecrets(db, names.map((name) => sealed(defaultWs.id, name)), []);

    const rest = options.secrets - deepSecrets;
    if (rest > 0) {
      const workspaces = Array.from({ length: WORKSPACES - 1 }, (_, i) => ({
        id: newId("ws"), name: `scale-${String(i + 1).padStart(2, "0")}`, ...INITIAL_SETTINGS,
        readsPerSecond: null, writesPerSecond: null, createdAt: now,
      }));
      const users = Array.from({ length: USERS }, (_, i) => ({ id: newId("usr"), username: `scale-user-${String(i).padStart(4, "0")}`, passwordHash: null, isAdmin: 0, disabledAt: null, createdAt: now }));
      await db.transaction().execute(async (trx) => {
        await trx.insertInto("workspaces").values(workspaces).execute();
        await trx.insertInto("groups").values(workspaces.map((ws) => everyoneGroup(ws.id, now))).execute();
        for (const part of chunks(users, BATCH)) await trx.insertInto("users").values(part).execute();
        // Each user is a member of one workspace; the admin owns them all.
        const memberships = [
          ...workspaces.map((ws) => ({ workspaceId: ws.id, userId: admin.id, role: "owner", createdAt: now })),
          ...users.map((user, i) => ({ workspaceId: workspaces[i % workspaces.length]!.id, userId: user.id, role: "member", createdAt: now })),
        ];
        for (const part of chunks(memberships, BATCH)) await trx.insertInto("memberships").values(part).execute();
      });
      const batch: ReturnType<typeof sealed>[] = [];
      const grants: Tables["grants"][] = [];
      for (let i = 0; i < rest; i++) {
        const w = i % workspaces.length;
        const item = sealed(workspaces[w]!.id, `app-${String(Math.floor(i / workspaces.length)).padStart(5, "0")}/api-key`);
        batch.push(item);
        // The members of workspace w are users w, w + 99, w + 198, …: grant one of them each secret.
        const member = users[w + workspaces.length * (Math.floor(i / workspaces.length) % Math.ceil(USERS / workspaces.length))] ?? users[w]!;
        grants.push({ secretId: item.secret.id, workspaceId: item.secret.workspaceId, subjectId: member.id, level: "read", createdAt: now, createdBy: admin.id });
        if (batch.length === BATCH) await insertSecrets(db, batch.splice(0), grants.splice(0));
      }
      if (batch.length > 0) await insertSecrets(db, batch, grants);
    }
    // The statistics PostgreSQL's autovacuum gathers within a minute of a load like this one (autovacuum
    // may be off on a test server): without them the planner guesses, and a write's prune of old
    // versions became a bitmap scan that never marks dead index entries, growing slower with each update.
    if (options.databaseUrl) await sql`analyze`.execute(db);
    return { token, deepSecrets, workspaceSecrets: names.length };
  } finally {
    await coffer.close();
  }
}

async function insertSecrets(db: Database, items: { secret: Tables["secrets"]; version: Tables["secretVersions"] }[], grants: Tables["grants"][]): Promise<void> {
  for (const part of chunks(items, BATCH)) {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto("secrets").values(part.map((item) => item.secret)).execute();
      await trx.insertInto("secretVersions").values(part.map((item) => item.version)).execute();
    });
  }
  for (const part of chunks(grants, BATCH)) await db.insertInto("grants").values(part).execute();
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
