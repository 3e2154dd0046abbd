/**
 * One batch onto the chain: put it after the head, store it as one segment,
 * move the head, all in one transaction, so the chain has one order however
 * many nodes append to it.
 */
import { GENESIS, type ChainPoint } from "./audit-chain.ts";
import { chainSegment } from "./audit-segment.ts";
import { AUDIT_LOCK_KEY, appendIfHeadIs, appendStatements, lockHead, type StoredHead } from "./audit.repository.ts";
import type { AuditEventInput, AuditRecord } from "./audit.types.ts";
import type { Database, Store } from "../store/store.ts";

/** Appends a batch; `synced`: answered once on disk, else once written (Store.writeUnsynced). */
export type AuditAppender = (events: AuditEventInput[], synced: boolean) => Promise<AuditRecord[]>;

/** Compare-and-set tries before an append takes the lock instead: enough for a few busy nodes, and no livelock. */
const APPEND_TRIES = 3;

/**
 * Appends each batch in a transaction of its own that reads the head under
 * the lock: the way for SQLite, where a statement costs no round trip.
 */
export function appendInProcess(store: Store): AuditAppender {
  const statements = appendStatements(store.db);
  return (events, synced) => {
    const append = async (trx: Database) => {
      await store.dialect.lockUntilCommit(trx, AUDIT_LOCK_KEY);
      const segment = chainSegment((await statements.readHead(trx)) ?? { seq: 0, hash: GENESIS }, events);
      await statements.insertSegment(trx, segment.row);
      await statements.writeHead(trx, segment.head);
      return segment.records;
    };
    return synced ? store.db.transaction().execute(append) : store.writeUnsynced(append);
  };
}

/**
 * Appends on a store several nodes share (PostgreSQL), where each statement
 * is a round trip: the batch is chained after the head this node last wrote
 * and goes in with one compare-and-set statement (audit.repository.ts,
 * appendIfHeadIs), which appends nothing if another node moved the head
 * meanwhile; it is then chained again after the head that statement saw.
 * One round trip per batch while this node is the only writer. Without a
 * head known (the first append, an error) or after APPEND_TRIES lost races,
 * a batch takes the head's row lock in a transaction instead, which every
 * compare-and-set waits for.
 *
 * A batch waits for this node's batch before it to be in: sent at once on
 * another connection, it could reach PostgreSQL first and lose the race to
 * its own predecessor.
 */
export function appendToSharedStore(store: Store): AuditAppender {
  const statements = appendStatements(store.db);
  /** The head this node's last append left (or will leave): what the next batch chains after. */
  let expected: StoredHead | null = null;
  const chainAfter = (head: StoredHead, events: AuditEventInput[]) => {
    const segment = chainSegment(head.point, events);
    expected = storedHead(segment.head);
    return segment;
  };
  const appendLocked = async (events: AuditEventInput[], synced: boolean) => {
    const append = async (trx: Database) => {
      await store.dialect.lockUntilCommit(trx, AUDIT_LOCK_KEY); // two first appends, before any head row exists
      const segment = chainAfter((await lockHead(trx)) ?? storedHead({ seq: 0, hash: GENESIS }), events);
      await statements.insertSegment(trx, segment.row);
      await statements.writeHead(trx, segment.head);
      return segment.records;
    };
    return synced ? store.db.transaction().execute(append) : store.writeUnsynced(append);
  };
  let previous: Promise<unknown> = Promise.resolve();
  return (events, synced) => {
    const appended = previous.then(() => append(events, synced));
    previous = appended.catch(() => {});
    return appended;
  };
  async function append(events: AuditEventInput[], synced: boolean): Promise<AuditRecord[]> {
    try {
      let head = expected;
      for (let tries = 0; head !== null && tries < APPEND_TRIES; tries++) {
        const segment = chainAfter(head, events);
        const result = await appendIfHeadIs(store.db, head.text, segment.row, segment.head, synced);
        if (result.appended) return segment.records;
        head = result.head;
      }
      return await appendLocked(events, synced);
    } catch (error) {
      expected = null;
      throw error;
    }
  }
}

function storedHead(point: ChainPoint): StoredHead {
  return { point, text: JSON.stringify(point) };
}
