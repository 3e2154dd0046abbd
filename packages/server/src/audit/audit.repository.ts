import { sql, type SelectQueryBuilder } from "kysely";
import { execute, prepared } from "../store/prepared.ts";
import type { Database, NamedStatement, Store } from "../store/store.ts";
import type { Tables } from "../store/tables.ts";
import type { ChainPoint } from "./audit-chain.ts";
import { KEY, eventsOf, keyLines, type SegmentRow } from "./audit-segment.ts";
import type { AuditRecord, ReadCondition } from "./audit.types.ts";

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

function upsertPoint(db: Database, key: string, value: string) {
  return db.insertInto("meta").values({ key, value }).onConflict((oc) => oc.column("key").doUpdateSet({ value }));
}

async function writePoint(db: Database, key: string, point: ChainPoint): Promise<void> {
  await upsertPoint(db, key, JSON.stringify(point)).execute();
}

export const writeHead = (db: Database, point: ChainPoint) => writePoint(db, HEAD, point);
export const writeAnchor = (db: Database, point: ChainPoint) => writePoint(db, ANCHOR, point);

/**
 * The statements of an append, compiled once per store (prepared.ts):
 * building and compiling them with Kysely costs more than SQLite takes to
 * run them, and an append runs for every batch of requests.
 */
const selectHead = prepared((db: Database, _: object) => db.selectFrom("meta").select("value").where("key", "=", HEAD));
const insertSegmentRow = prepared((db: Database, row: SegmentRow) =>
  db.insertInto("auditSegments").values({
    firstSeq: row.firstSeq,
    lastSeq: row.lastSeq,
    minTime: row.minTime,
    maxTime: row.maxTime,
    keys: row.keys,
    lastHash: row.lastHash,
    events: row.events,
  }),
);
const moveHead = prepared((db: Database, { value }: { value: string }) => upsertPoint(db, HEAD, value));

export const appendStatements = {
  async readHead(trx: Database): Promise<ChainPoint | null> {
    const { rows } = await execute(trx, selectHead(trx, {}));
    return rows[0] ? (JSON.parse(rows[0].value) as ChainPoint) : null;
  },
  async insertSegment(trx: Database, row: SegmentRow): Promise<void> {
    await execute(trx, insertSegmentRow(trx, row));
  },
  async writeHead(trx: Database, point: ChainPoint): Promise<void> {
    await execute(trx, moveHead(trx, { value: JSON.stringify(point) }));
  },
};

/** The head as stored, with its text: a compare-and-set append compares the text it read, whatever its spelling. */
export interface StoredHead {
  point: ChainPoint;
  text: string;
}

/**
 * An append in one statement, for PostgreSQL, where each statement is a round
 * trip: the segment goes in and the head moves only if the head is still
 * `expected` and every read condition holds, in the implicit transaction of
 * the statement; an unsynced append turns off the wait for the sync of that
 * transaction's commit alone. Whether it appended, the head as the statement
 * found it (for the next try), and the secrets of conditions that failed.
 * The conditions are read in the statement's snapshot, taken after every read
 * they stand for began: a write answered before such a read is seen.
 */
export async function appendIfHeadIs(
  store: Store,
  expected: string,
  row: SegmentRow,
  head: ChainPoint,
  synced: boolean,
  conditions: ReadCondition[],
): Promise<{ appended: boolean; head: StoredHead | null; stale: string[] }> {
  const parameters = [JSON.stringify(head), expected, row.firstSeq, row.lastSeq, row.minTime, row.maxTime, row.keys, row.lastHash, row.events, conditionsJson(conditions)];
  const rows = await store.runNamed<{ appended: number; head: string | null; stale: string[] | null }>(synced ? APPEND_IF_HEAD_IS : APPEND_IF_HEAD_IS_UNSYNCED, parameters);
  const { appended, head: stored, stale } = rows[0]!;
  return { appended: appended === 1, head: stored === null ? null : { point: JSON.parse(stored) as ChainPoint, text: stored }, stale: stale ?? [] };
}

/** The distinct conditions as JSON (a batch of reads of one secret holds one condition many times). */
function conditionsJson(conditions: ReadCondition[]): string {
  const distinct: ReadCondition[] = [];
  const bySecret = new Map<string, ReadCondition[]>();
  for (const c of conditions) {
    const seen = bySecret.get(c.secretId);
    if (seen === undefined) bySecret.set(c.secretId, [c]);
    else if (seen.some((s) => s.currentVersion === c.currentVersion && s.updatedAt === c.updatedAt && s.deletedAt === c.deletedAt)) continue;
    else seen.push(c);
    distinct.push(c);
  }
  return JSON.stringify(distinct);
}

/*
 * A prepared statement whose plan never depends on its values, so PostgreSQL
 * keeps one generic plan instead of planning every batch: the conditions come
 * as one JSON array (jsonb_to_recordset's row estimate is fixed, where
 * unnest's follows the arrays' length and a batch of one would be planned
 * anew each time), and each is checked by a subquery on the secret's key (a
 * join could be planned as a scan of every secret).
 */
const APPEND_TEXT = `
with stale as (
  select c."secretId" as id from jsonb_to_recordset($10::jsonb) as c ("secretId" text, "currentVersion" bigint, "updatedAt" bigint, "deletedAt" bigint)
  where not coalesce((
    select s.current_version = c."currentVersion" and s.updated_at = c."updatedAt" and s.deleted_at is not distinct from c."deletedAt"
    from secrets s where s.id = c."secretId"
  ), false)
), moved as (
  update meta set value = $1 where key = '${HEAD}' and value = $2 and not exists (select from stale) returning 1
), appended as (
  insert into audit_segments (first_seq, last_seq, min_time, max_time, keys, last_hash, events)
  select $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::text, $8::text, $9::bytea from moved
  returning 1
)
select (select count(*) from appended) as appended, (select value from meta where key = '${HEAD}') as head, (select array_agg(id) from stale) as stale`;

const APPEND_IF_HEAD_IS: NamedStatement = { name: "coffer_audit_append", text: APPEND_TEXT };
const APPEND_IF_HEAD_IS_UNSYNCED: NamedStatement = {
  name: "coffer_audit_append_unsynced",
  text: `${APPEND_TEXT}, set_config('synchronous_commit', 'off', true) as unsynced`,
};

/** The secrets of `conditions` that no longer hold (the locked append's check; appendIfHeadIs makes its own). */
export async function staleConditions(db: Database, conditions: ReadCondition[]): Promise<string[]> {
  if (conditions.length === 0) return [];
  const rows = await db.selectFrom("secrets").select(["id", "currentVersion", "updatedAt", "deletedAt"]).where("id", "in", conditions.map((c) => c.secretId)).execute();
  const stored = new Map(rows.map((row) => [row.id, row]));
  return conditions
    .filter((c) => {
      const row = stored.get(c.secretId);
      return !row || row.currentVersion !== c.currentVersion || row.updatedAt !== c.updatedAt || row.deletedAt !== c.deletedAt;
    })
    .map((c) => c.secretId);
}

/** The head, locked against every other append until commit (PostgreSQL: compare-and-set appends wait for it). */
export async function lockHead(trx: Database): Promise<StoredHead | null> {
  const row = await trx.selectFrom("meta").select("value").where("key", "=", HEAD).forUpdate().executeTakeFirst();
  return row ? { point: JSON.parse(row.value) as ChainPoint, text: row.value } : null;
}

/** Segments read at a time by a scan: a few hundred kilobytes. */
const SEGMENTS_PER_READ = 64;

/**
 * Events matching `filter`, at most `limit`: newest first (before a seq), or
 * oldest first after a seq. The segments' summaries skip what cannot match;
 * the events of the rest are read and matched one by one.
 */
export async function selectEvents(db: Database, filter: AuditFilter, page: { before?: number | undefined; after?: number | undefined; limit: number }): Promise<AuditRecord[]> {
  if (filter.workspaceIds?.length === 0) return [];
  const { before, after, limit } = page;
  const oldestFirst = after !== undefined;
  const found: AuditRecord[] = [];
  // Oldest first: segments from the one holding the event after `after`. Newest first: segments starting before `before`.
  let from = oldestFirst ? await firstSeqOfSegmentWith(db, after + 1) : undefined;
  let to = before;
  for (;;) {
    let query = mayMatch(db.selectFrom("auditSegments").select(["firstSeq", "lastSeq", "events"]), filter);
    if (from !== undefined) query = query.where("firstSeq", ">=", from);
    if (to !== undefined) query = query.where("firstSeq", "<", to);
    const rows = await query.orderBy("firstSeq", oldestFirst ? "asc" : "desc").limit(SEGMENTS_PER_READ).execute();
    for (const row of rows) {
      const events = eventsOf(row);
      if (!oldestFirst) events.reverse();
      for (const event of events) {
        const inPage = oldestFirst ? event.seq > after : before === undefined || event.seq < before;
        if (inPage && matches(event, filter)) {
          found.push(event);
          if (found.length === limit) return found;
        }
      }
    }
    if (rows.length < SEGMENTS_PER_READ) return found;
    const last = rows.at(-1)!;
    if (oldestFirst) from = last.firstSeq + 1;
    else to = last.firstSeq;
  }
}

/** The first seq of the segment that holds event `seq` (or would: segments are contiguous). */
async function firstSeqOfSegmentWith(db: Database, seq: number): Promise<number> {
  const row = await db.selectFrom("auditSegments").select("firstSeq").where("firstSeq", "<=", seq).orderBy("firstSeq", "desc").limit(1).executeTakeFirst();
  return row?.firstSeq ?? seq;
}

/** Narrows a scan to the segments whose summary allows a match; may let through segments with none (`matches` decides). */
function mayMatch<Q extends SelectQueryBuilder<Tables, "auditSegments", any>>(query: Q, filter: AuditFilter): Q {
  let narrowed = query;
  if (filter.from !== undefined) narrowed = narrowed.where("maxTime", ">=", filter.from) as Q;
  if (filter.to !== undefined) narrowed = narrowed.where("minTime", "<", filter.to) as Q;
  const names = (prefix: string, values: string[]) => {
    narrowed = narrowed.where((eb) => eb.or(values.map((value) => sql<boolean>`${eb.ref("keys")} like ${keyPattern(prefix + value)} escape '\\'`))) as Q;
  };
  if (filter.workspaceId !== undefined) names(KEY.workspace, [filter.workspaceId]);
  if (filter.workspaceIds !== undefined) names(KEY.workspace, filter.workspaceIds);
  if (filter.actor !== undefined) names(KEY.actor, [filter.actor]);
  if (filter.secret !== undefined) names(KEY.secret, [filter.secret]);
  return narrowed;
}

/** A LIKE pattern for one whole line of a segment's keys; `%`, `_` and `\\` in the key match only themselves. */
function keyPattern(key: string): string {
  return `%${keyLines([key.replace(/[\\%_]/g, "\\$&")])}%`;
}

function matches(event: AuditRecord, filter: AuditFilter): boolean {
  const { workspaceId, workspaceIds, from, to, actor, secret, action, outcome, requestId } = filter;
  return (
    (workspaceId === undefined || event.workspaceId === workspaceId) &&
    (workspaceIds === undefined || (event.workspaceId !== null && workspaceIds.includes(event.workspaceId))) &&
    (from === undefined || event.time >= from) &&
    (to === undefined || event.time < to) &&
    (actor === undefined || event.actorId === actor || event.actorName === actor) &&
    (secret === undefined || event.secretId === secret || event.secretName === secret) &&
    (action === undefined || (action.endsWith("*") ? event.action.startsWith(action.slice(0, -1)) : event.action === action)) &&
    (outcome === undefined || event.outcome === outcome) &&
    (requestId === undefined || event.requestId === requestId)
  );
}

/** Segments in seq order from the one after `afterFirstSeq`, a page at a time (verify). */
export function segmentsAfter(db: Database, afterFirstSeq: number, limit: number): Promise<SegmentRow[]> {
  return db.selectFrom("auditSegments").selectAll().where("firstSeq", ">", afterFirstSeq).orderBy("firstSeq", "asc").limit(limit).execute();
}

/**
 * Retention: removes the oldest segments, up to the first that holds an event
 * at or after `time` (a segment goes whole, so an event may outlive the
 * cut-off by as long as its batch took). Returns where the chain now starts
 * and how many events went, or null when nothing is old enough.
 */
export async function deleteSegmentsBefore(db: Database, time: number): Promise<{ anchor: ChainPoint; removed: number } | null> {
  const kept = await db.selectFrom("auditSegments").select((eb) => eb.fn.min("firstSeq").as("firstSeq")).where("maxTime", ">=", time).executeTakeFirst();
  const firstKept = kept?.firstSeq ?? null;
  const old = db.selectFrom("auditSegments").$if(firstKept !== null, (query) => query.where("firstSeq", "<", firstKept!));
  const last = await old.select(["lastSeq", "lastHash"]).orderBy("firstSeq", "desc").limit(1).executeTakeFirst();
  if (!last) return null;
  const count = await old.select((eb) => eb.fn.sum<number>(sql`${eb.ref("lastSeq")} - ${eb.ref("firstSeq")} + 1`).as("events")).executeTakeFirstOrThrow();
  await db.deleteFrom("auditSegments").$if(firstKept !== null, (query) => query.where("firstSeq", "<", firstKept!)).execute();
  return { anchor: { seq: last.lastSeq, hash: last.lastHash }, removed: Number(count.events) };
}
