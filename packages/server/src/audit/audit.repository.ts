import type { Database } from "../store/store.ts";
import type { ChainPoint } from "./audit-chain.ts";
import type { AuditRecord } from "./audit.types.ts";

const HEAD = "audit.head";
const ANCHOR = "audit.anchor";

/** Every node's appends and prunes take this lock until commit, so the chain has one order. */
export const AUDIT_LOCK_KEY = 0x41756474; // "Audt"

export interface AuditFilter {
  workspaceId?: string | undefined;
  /** Only events of workspaces in this list (a workspace admin's view); undefined = any. */
  workspaceIds?: string[] | undefined;
  from?: number | undefined;
  to?: number | undefined;
  /** An actor's id or name. */
  actor?: string | undefined;
  /** A secret's id or name. */
  secret?: string | undefined;
  /** An action, or a prefix of one ending in '*' (secret.*); actions are [a-z0-9.-], so no LIKE wildcard can slip in. */
  action?: string | undefined;
  outcome?: string | undefined;
  requestId?: string | undefined;
}

export async function readPoint(db: Database, key: typeof HEAD | typeof ANCHOR): Promise<ChainPoint | null> {
  const row = await db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst();
  return row ? (JSON.parse(row.value) as ChainPoint) : null;
}

export const readHead = (db: Database) => readPoint(db, HEAD);
export const readAnchor = (db: Database) => readPoint(db, ANCHOR);

async function writePoint(db: Database, key: string, point: ChainPoint): Promise<void> {
  const value = JSON.stringify(point);
  await db.insertInto("meta").values({ key, value }).onConflict((oc) => oc.column("key").doUpdateSet({ value })).execute();
}

export const writeHead = (db: Database, point: ChainPoint) => writePoint(db, HEAD, point);
export const writeAnchor = (db: Database, point: ChainPoint) => writePoint(db, ANCHOR, point);

/** Rows per INSERT: well inside both databases' bound-parameter limits. */
const ROWS_PER_INSERT = 500;

export async function insertEvents(db: Database, records: AuditRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += ROWS_PER_INSERT) {
    await db.insertInto("auditEvents").values(records.slice(i, i + ROWS_PER_INSERT)).execute();
  }
}

export function selectEvents(db: Database, filter: AuditFilter, page: { before?: number | undefined; after?: number | undefined; limit: number }) {
  let query = db.selectFrom("auditEvents").selectAll();
  if (filter.workspaceId !== undefined) query = query.where("workspaceId", "=", filter.workspaceId);
  if (filter.workspaceIds !== undefined) query = query.where("workspaceId", "in", filter.workspaceIds.length ? filter.workspaceIds : [""]);
  if (filter.from !== undefined) query = query.where("time", ">=", filter.from);
  if (filter.to !== undefined) query = query.where("time", "<", filter.to);
  if (filter.actor !== undefined) {
    const actor = filter.actor;
    query = query.where((eb) => eb.or([eb("actorId", "=", actor), eb("actorName", "=", actor)]));
  }
  if (filter.secret !== undefined) {
    const secret = filter.secret;
    query = query.where((eb) => eb.or([eb("secretId", "=", secret), eb("secretName", "=", secret)]));
  }
  if (filter.action !== undefined) {
    query = filter.action.endsWith("*")
      ? query.where("action", "like", `${filter.action.slice(0, -1)}%`)
      : query.where("action", "=", filter.action);
  }
  if (filter.outcome !== undefined) query = query.where("outcome", "=", filter.outcome);
  if (filter.requestId !== undefined) query = query.where("requestId", "=", filter.requestId);
  if (page.after !== undefined) return query.where("seq", ">", page.after).orderBy("seq", "asc").limit(page.limit).execute() as Promise<AuditRecord[]>;
  if (page.before !== undefined) query = query.where("seq", "<", page.before);
  return query.orderBy("seq", "desc").limit(page.limit).execute() as Promise<AuditRecord[]>;
}

/** The newest event older than `time`: where retention cuts the log. */
export function lastEventBefore(db: Database, time: number) {
  return db.selectFrom("auditEvents").select(["seq", "hash"]).where("time", "<", time).orderBy("seq", "desc").limit(1).executeTakeFirst();
}

export async function deleteThrough(db: Database, seq: number): Promise<number> {
  const result = await db.deleteFrom("auditEvents").where("seq", "<=", seq).executeTakeFirst();
  return Number(result.numDeletedRows);
}
