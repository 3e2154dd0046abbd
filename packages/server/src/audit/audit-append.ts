/**
 * One batch onto the chain, in one transaction: read the head, hash each
 * event onto it, insert, move the head. Runs in the server's thread on
 * PostgreSQL and in the audit writer thread on SQLite.
 */
import { GENESIS, chainHash } from "./audit-chain.ts";
import { AUDIT_LOCK_KEY, insertEvents, readHead, writeHead } from "./audit.repository.ts";
import type { AuditEventInput, AuditRecord } from "./audit.types.ts";
import type { StoreDialect } from "../store/dialect.ts";
import type { Database } from "../store/store.ts";

export type AuditAppender = (events: AuditEventInput[]) => Promise<AuditRecord[]>;

export function appendInTransaction(trx: Database, dialect: StoreDialect, events: AuditEventInput[]): Promise<AuditRecord[]> {
  return dialect.lockUntilCommit(trx, AUDIT_LOCK_KEY).then(async () => {
    let previous = (await readHead(trx)) ?? { seq: 0, hash: GENESIS };
    const records = events.map((event) => {
      const seq = previous.seq + 1;
      const record = { ...event, seq, hash: chainHash(previous.hash, seq, event) };
      previous = { seq, hash: record.hash };
      return record;
    });
    await insertEvents(trx, records);
    await writeHead(trx, previous);
    return records;
  });
}

export function appendInProcess(db: Database, dialect: StoreDialect): AuditAppender {
  return (events) => db.transaction().execute((trx) => appendInTransaction(trx, dialect, events));
}
