/**
 * One batch onto the chain, in one transaction: read the head, hash each
 * event onto it, store the batch as one segment, move the head.
 */
import { GENESIS } from "./audit-chain.ts";
import { chainSegment } from "./audit-segment.ts";
import { AUDIT_LOCK_KEY, appendStatements } from "./audit.repository.ts";
import type { AuditEventInput, AuditRecord } from "./audit.types.ts";
import type { Database, Store } from "../store/store.ts";

/** Appends a batch; `synced`: answered once on disk, else once written (Store.writeUnsynced). */
export type AuditAppender = (events: AuditEventInput[], synced: boolean) => Promise<AuditRecord[]>;

/** Appends each batch in a transaction of its own. */
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
