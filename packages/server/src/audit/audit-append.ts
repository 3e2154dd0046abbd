/**
 * One batch onto the chain: put it after the head, store it as one segment,
 * move the head, all in one transaction, so the chain has one order however
 * many nodes append to it.
 */
import { GENESIS, type ChainPoint } from "./audit-chain.ts";
import { chainSegment } from "./audit-segment.ts";
import { AUDIT_LOCK_KEY, appendIfHeadIs, appendStatements, lockHead, staleConditions, type StoredHead } from "./audit.repository.ts";
import type { AuditEventInput, AuditRecord, ReadCondition } from "./audit.types.ts";
import type { Database, Store } from "../store/store.ts";

/** What an append put on the chain; the events whose read condition failed are left out, as `stale`. */
export interface Appended {
  records: AuditRecord[];
  stale: ReadonlySet<AuditEventInput>;
}

/**
 * Appends a batch; `synced`: answered once on disk, else once written
 * (Store.writeUnsynced). An event with a read condition goes in only if its
 * condition holds (only on a store several nodes share: elsewhere a cached
 * read is current by construction).
 */
export type AuditAppender = ((events: AuditEventInput[], synced: boolean, conditions?: ReadonlyMap<AuditEventInput, ReadCondition>) => Promise<Appended>) & {
  /** Batches worth handing over at once (AuditLog's default otherwise): more only wait in the appender's queue, and get smaller. */
  readonly batchesInFlight?: number;
  /**
   * Puts events on the chain inside `trx`, a transaction the caller commits
   * (AuditLog.appendInCommit): they are in if and only if it commits. Only
   * where that costs no other write its concurrency: absent on a store
   * several nodes share (appendToSharedStore says why).
   */
  readonly inTransaction?: (trx: Database, events: AuditEventInput[]) => Promise<AuditRecord[]>;
};

const NONE: ReadonlySet<AuditEventInput> = new Set();

/** Compare-and-set tries before an append takes the lock instead: enough for a few busy nodes, and no livelock. */
const APPEND_TRIES = 3;

/**
 * Appends each batch in a transaction that reads the head under the lock:
 * the way for SQLite, where a statement costs no round trip. A batch to sync
 * joins the writes being group-committed (Store.writeGrouped), so the events
 * of the requests just answered share the commit and the sync of the next
 * requests' changes instead of costing another of each.
 */
export function appendInProcess(store: Store): AuditAppender {
  const statements = appendStatements;
  const inTransaction = async (trx: Database, events: AuditEventInput[]) => {
    await store.dialect.lockUntilCommit(trx, AUDIT_LOCK_KEY);
    const segment = chainSegment((await statements.readHead(trx)) ?? { seq: 0, hash: GENESIS }, events);
    await statements.insertSegment(trx, segment.row);
    await statements.writeHead(trx, segment.head);
    return segment.records;
  };
  const appender: AuditAppender = async (events, synced, conditions) => {
    if (conditions && conditions.size > 0) throw new Error("read conditions are for a store several nodes share");
    const append = (trx: Database) => inTransaction(trx, events);
    return { records: await (synced ? store.writeGrouped(append) : store.writeUnsynced(append)), stale: NONE };
  };
  return Object.assign(appender, { inTransaction });
}

/**
 * Appends on a store several nodes share (PostgreSQL), where each statement
 * is a round trip: the batch is chained after the head this node last wrote
 * and goes in with one compare-and-set statement (audit.repository.ts,
 * appendIfHeadIs), which appends nothing if another node moved the head
 * meanwhile; it is then chained again after the head that statement saw.
 * The same statement checks the batch's read conditions: events whose
 * condition failed are taken out and the rest sent again. One round trip per
 * batch while this node is the only writer. Without a head known (the first
 * append, an error) or after APPEND_TRIES lost races, a batch takes the
 * head's row lock in a transaction instead, which every compare-and-set
 * waits for.
 *
 * A batch waits for this node's batch before it to be in: sent at once on
 * another connection, it could reach PostgreSQL first and lose the race to
 * its own predecessor.
 *
 * No inTransaction here: a change's event written in its batch's
 * transaction must lock the head's row from the batch's end until its commit
 * is synced, so each batch's append and commit wait behind the batch before
 * (its commit alone waits already: batches NOTIFY, and PostgreSQL commits
 * those in turn), and the batches get smaller; measured, fewer updates a
 * second, not more (docs/decisions.md, what a durable update on PostgreSQL
 * costs). A compare-and-set after the head of a batch not yet committed
 * cannot spare that wait: in READ COMMITTED it tests the head as its
 * statement's snapshot sees it, and fails. A change's event is appended
 * after its commit instead.
 */
export function appendToSharedStore(store: Store): AuditAppender {
  const statements = appendStatements;
  /** The head this node's last append left (or will leave): what the next batch chains after. */
  let expected: StoredHead | null = null;
  const chainAfter = (head: StoredHead, events: AuditEventInput[]) => {
    const segment = chainSegment(head.point, events);
    expected = storedHead(segment.head);
    return segment;
  };
  let previous: Promise<unknown> = Promise.resolve();
  const appendAfterPrevious: AuditAppender = (events, synced, conditions) => {
    const appended = previous.then(() => append(new Pending(events, conditions), synced));
    previous = appended.catch(() => {});
    return appended;
  };
  // One batch at a time reaches PostgreSQL, so the next batch fills while it is out rather than waiting, closed, behind it.
  return Object.assign(appendAfterPrevious, { batchesInFlight: 1 });

  async function append(pending: Pending, synced: boolean): Promise<Appended> {
    try {
      let head = expected;
      for (let tries = 0; head !== null && tries < APPEND_TRIES; ) {
        if (pending.events.length === 0) return pending.appended([]);
        const segment = chainAfter(head, pending.events);
        const result = await appendIfHeadIs(store, head.text, segment.row, segment.head, synced, pending.conditions());
        if (result.appended) return pending.appended(segment.records);
        expected = head = result.head;
        if (result.stale.length > 0) pending.drop(result.stale);
        else tries++;
      }
      return await appendLocked(pending, synced);
    } catch (error) {
      expected = null;
      throw error;
    }
  }

  function appendLocked(pending: Pending, synced: boolean): Promise<Appended> {
    const append = async (trx: Database) => {
      await store.dialect.lockUntilCommit(trx, AUDIT_LOCK_KEY); // two first appends, before any head row exists
      const head = (await lockHead(trx)) ?? storedHead({ seq: 0, hash: GENESIS });
      pending.drop(await staleConditions(trx, pending.conditions()));
      if (pending.events.length === 0) return pending.appended([]);
      const segment = chainAfter(head, pending.events);
      await statements.insertSegment(trx, segment.row);
      await statements.writeHead(trx, segment.head);
      return pending.appended(segment.records);
    };
    return synced ? store.db.transaction().execute(append) : store.writeUnsynced(append);
  }
}

/** A batch on its way in: the events still to append, and those taken out because their read condition failed. */
class Pending {
  events: AuditEventInput[];
  #conditions: ReadonlyMap<AuditEventInput, ReadCondition> | undefined;
  #stale = new Set<AuditEventInput>();

  constructor(events: AuditEventInput[], conditions: ReadonlyMap<AuditEventInput, ReadCondition> | undefined) {
    this.events = events;
    this.#conditions = conditions;
  }

  conditions(): ReadCondition[] {
    const conditions = this.#conditions;
    return conditions === undefined || conditions.size === 0 ? [] : this.events.flatMap((event) => conditions.get(event) ?? []);
  }

  drop(staleSecrets: string[]): void {
    if (staleSecrets.length === 0) return;
    const stale = new Set(staleSecrets);
    this.events = this.events.filter((event) => {
      const condition = this.#conditions?.get(event);
      if (condition === undefined || !stale.has(condition.secretId)) return true;
      this.#stale.add(event);
      return false;
    });
  }

  appended(records: AuditRecord[]): Appended {
    return { records, stale: this.#stale };
  }
}

function storedHead(point: ChainPoint): StoredHead {
  return { point, text: JSON.stringify(point) };
}
