/**
 * The audit log. Requests append events and wait until their event is
 * durable (fail closed), but appends are grouped: every event that arrives
 * while one batch is being written joins the next, so the log costs one
 * transaction and one row per batch, not per request (DESIGN.md, group
 * commit). A batch that holds only reads is durable once written, synced
 * within a fraction of a second (Store.writeUnsynced), unless syncReads.
 */
import type { AuditAppender } from "./audit-append.ts";
import { ChainChecker, type ChainProblem } from "./audit-chain.ts";
import { segmentProblem } from "./audit-segment.ts";
import {
  AUDIT_LOCK_KEY,
  deleteSegmentsBefore,
  readAnchor,
  readHead,
  segmentsAfter,
  selectEvents,
  writeAnchor,
  type AuditFilter,
} from "./audit.repository.ts";
import type { AuditEventInput, AuditRecord, ReadCondition } from "./audit.types.ts";
import { CofferError } from "../core/errors.ts";
import { atBatchEnd } from "../store/group-commit.ts";
import type { Database, Store } from "../store/store.ts";

/** Which requests wait for their event to be synced to disk (AuditSettings.sync). */
export type AuditSync = "changes" | "always";

export interface AuditOptions {
  /** Let requests succeed when their event cannot be written (logged loudly each time). Default: fail closed. */
  failOpen?: boolean;
  /** Reads too wait for their events to be synced to disk, not only written. Default: false. */
  syncReads?: boolean;
  log?: (message: string) => void;
}

/** A change's event on its way into the change's transaction (AuditLog.appendInCommit): its record once on the chain. */
export interface InCommit {
  readonly event: AuditEventInput;
  record: AuditRecord | undefined;
}

/** The answer to a request whose event could not be written, failing closed. */
export function auditUnavailable(): CofferError {
  return new CofferError("AUDIT_UNAVAILABLE", "the audit log could not record this request, so it was refused; try again shortly");
}

export interface VerifyResult {
  ok: boolean;
  /** Events whose hash was checked. */
  checked: number;
  problem?: ChainProblem;
}

interface Batch {
  events: AuditEventInput[];
  /** Some event in it must be on disk before its request is answered. */
  synced: boolean;
  /** Read events that go in only if what the read served is still current. */
  conditions: Map<AuditEventInput, ReadCondition>;
  /** Events left out: their condition failed, or (fail-open) the batch could not be written. */
  stale: ReadonlySet<AuditEventInput>;
  durable: Promise<void>;
  /** recordThen()'s callers, two slots each: the callback and its argument. */
  waiting: unknown[];
  settle(error?: unknown): void;
}

/** recordThen()'s callback: `error` null once the event is durable. */
export type Recorded<A> = (error: unknown, arg: A) => void;

/** Segments checked at a time. */
const VERIFY_PAGE = 100;
/** One batch commits while the next is made ready, unless the appender says otherwise (AuditAppender.batchesInFlight). */
const BATCHES_IN_FLIGHT = 2;
export const MAX_PAGE = 1000;

export class AuditLog {
  readonly failOpen: boolean;
  #syncReads: boolean;
  #store: Store;
  #appender: AuditAppender;
  #log: (message: string) => void;
  #open: Batch | null = null;
  #writing = new Set<Promise<void>>();
  #listeners: ((records: AuditRecord[]) => void)[] = [];
  /** Committed with their changes, not yet handed to the listeners (committed()). */
  #committed: AuditRecord[] = [];

  constructor(store: Store, appender: AuditAppender, options: AuditOptions = {}) {
    this.#store = store;
    this.#appender = appender;
    this.failOpen = options.failOpen ?? false;
    this.#syncReads = options.syncReads ?? false;
    this.#log = options.log ?? (() => {});
  }

  /**
   * Resolves once the event is durable: on disk, or for a read (unless
   * syncReads) written and on its way to disk (Store.writeUnsynced). Rejects
   * (fail closed) if it cannot be made so.
   */
  record(event: AuditEventInput, read = false): Promise<void> {
    return this.#join(event, read).durable;
  }

  /**
   * record() for a caller that goes on in a callback (an HTTP hook): `then(null, arg)`
   * once durable, `then(error, arg)` if not. Every request waits for its batch,
   * so a promise, its reaction and two closures per request stay alive that
   * long (the young generation's collections copy them); this holds only
   * the two slots.
   */
  recordThen<A>(event: AuditEventInput, read: boolean, then: Recorded<A>, arg: A): void {
    this.#join(event, read).waiting.push(then, arg);
  }

  /**
   * A read's event, recorded only if the secret it served is still as
   * `condition` says, checked in the statement that appends it (on a store
   * several nodes share: the freshness check of secret-freshness.ts and the
   * audit append in one round trip). Resolves true once durable; false when
   * the read was stale (nothing recorded: the caller reads again), or when the
   * event could not be written in fail-open mode (nothing was checked).
   */
  async recordIfCurrent(event: AuditEventInput, condition: ReadCondition): Promise<boolean> {
    const batch = this.#join(event, true);
    batch.conditions.set(event, condition);
    await batch.durable;
    return !batch.stale.has(event);
  }

  #join(event: AuditEventInput, read: boolean): Batch {
    let batch = this.#open;
    if (batch === null) {
      batch = this.#open = newBatch();
      if (this.#writing.size < (this.#appender.batchesInFlight ?? BATCHES_IN_FLIGHT)) setImmediate(() => this.#writeOpenBatch());
    }
    batch.events.push(event);
    if (!read || this.#syncReads) batch.synced = true;
    return batch;
  }

  /** Called with each batch once it is durable: alerts and webhooks start from here. */
  onAppended(listener: (records: AuditRecord[]) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Whether a change's event can go in the change's own transaction
   * (appendInCommit), so its request waits for one commit and one sync, not
   * the change's and then the next batch's: where the appender can
   * (AuditAppender.inTransaction), and only failing closed, since a change
   * whose event cannot be written is then not made either.
   */
  get appendsInCommit(): boolean {
    return !this.failOpen && this.#appender.inTransaction !== undefined;
  }

  /**
   * Puts `event` on the chain in `trx`, the transaction that makes the change
   * it reports: the event is in if and only if that change commits, a rolled
   * back write (its savepoint, its batch) taking its event with it. In a
   * group-committed batch the events of its changes go in at the batch's end
   * (store/group-commit.ts, atBatchEnd), one segment for all of them: one
   * head read and written per batch, not per change. The caller hands what
   * this returns to committed() once the commit is durable.
   */
  async appendInCommit(trx: Database, event: AuditEventInput): Promise<InCommit> {
    const entry: InCommit = { event, record: undefined };
    if (!atBatchEnd(trx, this.#appendInCommit, entry)) await this.#appendInCommit(trx, [entry]);
    return entry;
  }

  /** The events changes left for the end of their transaction, as one segment; AUDIT_UNAVAILABLE fails the transaction. */
  #appendInCommit = async (trx: Database, entries: InCommit[]): Promise<void> => {
    let records: AuditRecord[];
    try {
      records = await this.#appender.inTransaction!(trx, entries.map((entry) => entry.event));
    } catch (error) {
      this.#log(`AUDIT WRITE FAILED for ${entries.length} event(s): ${(error as Error).message} — the changes were not made and their requests were refused`);
      throw auditUnavailable();
    }
    entries.forEach((entry, i) => (entry.record = records[i]));
  };

  /**
   * A change's event put on the chain by appendInCommit, whose transaction
   * committed: listeners hear of it as of any batch. Those of one group
   * commit arrive one request at a time, and reach the listeners together,
   * on the next turn of the event loop: a batch of updates makes its alerts
   * in one insert (alert.service.ts), not one each.
   */
  committed({ record }: InCommit): void {
    if (record === undefined) return;
    if (this.#committed.length === 0) setImmediate(() => this.#notifyCommitted());
    this.#committed.push(record);
  }

  #notifyCommitted(): void {
    const records = this.#committed;
    this.#committed = [];
    this.#notify(records);
  }

  #notify(records: AuditRecord[]): void {
    if (records.length > 0) for (const listener of this.#listeners) listener(records);
  }

  /** Waits for everything recorded so far to be written. */
  async drain(): Promise<void> {
    this.#notifyCommitted();
    while (this.#writing.size > 0 || this.#open !== null) {
      this.#writeOpenBatch();
      await Promise.allSettled(this.#writing);
    }
  }

  #writeOpenBatch(): void {
    const batch = this.#open;
    if (batch === null) return;
    this.#open = null;
    const writing: Promise<void> = this.#appender(batch.events, batch.synced, batch.conditions)
      .then(
        ({ records, stale }) => {
          batch.stale = stale;
          batch.settle();
          this.#notify(records);
        },
        (error: unknown) => {
          this.#log(`AUDIT WRITE FAILED for ${batch.events.length} event(s): ${(error as Error).message}${this.failOpen ? " — the requests went ahead UNAUDITED (fail-open mode)" : " — the requests were refused"}`);
          batch.stale = new Set(batch.conditions.keys());
          batch.settle(this.failOpen ? undefined : error);
        },
      )
      .finally(() => {
        this.#writing.delete(writing);
        if (this.#open !== null) setImmediate(() => this.#writeOpenBatch());
      });
    this.#writing.add(writing);
  }

  /** Newest first, `before` a seq for the next page; or oldest first `after` a seq (tail, export). */
  async query(filter: AuditFilter, page: { before?: number | undefined; after?: number | undefined; limit?: number | undefined }): Promise<{ events: AuditRecord[]; next?: number }> {
    const limit = Math.min(page.limit ?? 100, MAX_PAGE);
    const events = await selectEvents(this.#store.db, filter, { before: page.before, after: page.after, limit });
    const last = events.at(-1);
    return events.length === limit && last ? { events, next: last.seq } : { events };
  }

  /** Walks the chain from its anchor to the head recorded at the start, segment by segment. */
  async verify(): Promise<VerifyResult> {
    const db = this.#store.db;
    const head = await readHead(db);
    const anchor = await readAnchor(db);
    const checker = new ChainChecker(anchor);
    const result = (problem: ChainProblem | null): VerifyResult => (problem ? { ok: false, checked: checker.checked, problem } : { ok: true, checked: checker.checked });
    let after = -1;
    for (;;) {
      const segments = await segmentsAfter(db, after, VERIFY_PAGE);
      for (const segment of segments) {
        if (head === null) return result({ seq: segment.firstSeq, reason: "the log holds events but its recorded head is gone: it was removed" });
        // Segments appended after the verify began are not part of what it checks.
        if (segment.firstSeq > head.seq) return result(checker.finish(head));
        const { events, problem } = segmentProblem(segment);
        const found = checker.check(events) ?? problem;
        if (found) return result(found);
      }
      if (segments.length < VERIFY_PAGE) return result(checker.finish(head));
      after = segments.at(-1)!.firstSeq;
    }
  }

  /** Retention: removes segments older than `before`; the chain then starts from the last removed event. */
  async prune(before: number): Promise<number> {
    return this.#store.db.transaction().execute(async (trx) => {
      await this.#store.dialect.lockUntilCommit(trx, AUDIT_LOCK_KEY);
      const cut = await deleteSegmentsBefore(trx, before);
      if (!cut) return 0;
      await writeAnchor(trx, cut.anchor);
      return cut.removed;
    });
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const durable = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch whose every request already went away must not become an unhandled rejection.
  durable.catch(() => {});
  const batch: Batch = {
    events: [],
    synced: false,
    conditions: new Map(),
    stale: new Set(),
    durable,
    waiting: [],
    settle: (error) => {
      if (error === undefined) resolve();
      else reject(error);
      const waiting = batch.waiting;
      for (let i = 0; i < waiting.length; i += 2) {
        try {
          (waiting[i] as Recorded<unknown>)(error ?? null, waiting[i + 1]);
        } catch (thrown) {
          // As a throw in a promise's reaction would: an unhandled error, not one that skips the callers after it.
          queueMicrotask(() => {
            throw thrown;
          });
        }
      }
    },
  };
  return batch;
}
