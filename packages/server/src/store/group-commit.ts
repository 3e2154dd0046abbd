/**
 * Group commit for writes (DESIGN.md, Performance design): the writes that
 * arrive while a batch is being committed join the next batch, and a batch
 * is one transaction, one commit and one sync, however many requests it
 * serves. Each write is answered only once that commit is durable.
 *
 * A batch first runs its writes one after another with nothing between them:
 * most batches fail nowhere, and two savepoint statements per write cost
 * about as much as the write's own statements. Where the store pipelines
 * statements (PostgreSQL), the writes that may run side by side (run's
 * `sideBySide`, the key of what each changes) run together first, one per
 * key, their statements sent to the database in bursts (pipeline.ts); then
 * the others one after another, among them a second write to a key, which so
 * builds on the first as it would have one by one (writes to one secret run
 * at once would each lose the race to another, again and again). The
 * batch's writes are concurrent requests, none answered yet, so any order
 * of them is one they may have had. If a write throws, that
 * transaction is rolled back and the batch runs again isolated, as do the
 * batches after it until one runs with no write failing: each write inside a
 * savepoint of its own, so that a write that throws (a conflict, a
 * constraint, a refusal) is rolled back to its savepoint and its caller gets
 * the error, while the others in the batch go on and commit. Two things are
 * no write's own failure and so never reach its caller: a PostgreSQL
 * deadlock or serialization failure (two batches that locked the same rows
 * in different orders), after which the write runs again alone; and a
 * statement of the batch failing outside every savepoint, after which
 * nothing of the batch is committed and each write runs again alone, in its
 * own transaction. A failing commit fails the batch's writes, as it would
 * fail a transaction of one.
 *
 * A write is a function of the transaction alone: it must not query outside
 * it (on SQLite the batch holds the only connection), and it may run more
 * than once (the runs again above), so it changes nothing but the database
 * and decides from what it reads in the transaction (an update that checks
 * the version it moves from, not one read before). A write may run side by
 * side with others only if its statements can interleave with theirs: each
 * change it makes checks in its own statement what it depends on (a
 * compare-and-set, a unique index), so another write's statement landing
 * between two of its own fails it rather than being overwritten. A write
 * that fails is run again isolated, as above.
 *
 * A write may leave work for the end of its batch (atBatchEnd): each step
 * runs once, after the batch's writes and before its commit, with what the
 * writes that stayed left it, in their order (a write rolled back to its
 * savepoint takes what it left with it). The audit events of a batch of
 * changes so become one segment of the chain, not one each. A failing step
 * fails the batch's writes, as a failing commit does.
 */
import { CompiledQuery, type Kysely } from "kysely";
import type { StoreDialect } from "./dialect.ts";
import { sendingTogether } from "./pipeline.ts";

export type GroupedWrite<DB, T> = (trx: Kysely<DB>) => Promise<T>;

/** Work for the end of a batch: `items`, what its writes left for it (atBatchEnd), in their order. */
export type BatchStep<DB, I> = (trx: Kysely<DB>, items: I[]) => Promise<void>;

/** What the writes of a batch's transaction left for its end, in order; a savepoint rolled back truncates it. */
type Left = [step: BatchStep<any, any>, item: unknown][];

const leftIn = new WeakMap<object, Left>();

/**
 * Leaves `item` for `step` at the end of the batch whose transaction `trx`
 * is. false: `trx` is no group-committed write's transaction; do the work now.
 */
export function atBatchEnd<DB, I>(trx: Kysely<DB>, step: BatchStep<DB, I>, item: I): boolean {
  const left = leftIn.get(trx);
  left?.push([step, item]);
  return left !== undefined;
}

interface Pending<DB> {
  write: GroupedWrite<DB, unknown>;
  sideBySide: string | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

// Compiled once: a statement Kysely builds is compiled (and passed through the plugins) on every run.
const START = CompiledQuery.raw("savepoint coffer_write");
const ROLLBACK = CompiledQuery.raw("rollback to savepoint coffer_write");
const RELEASE = CompiledQuery.raw("release savepoint coffer_write");
/** Between two writes, one round trip where the store takes several statements in one query. */
const RELEASE_AND_START = CompiledQuery.raw("release savepoint coffer_write; savepoint coffer_write");
/** PostgreSQL's deadlock_detected and serialization_failure: the batch's doing, not the write's. */
const LOCK_FAILURES = new Set(["40P01", "40001"]);

export class GroupCommit<DB> {
  #db: Kysely<DB>;
  #maxInFlight: number;
  #chainsStatements: boolean;
  #pipelines: boolean;
  #open: Pending<DB>[] | null = null;
  #inFlight = 0;
  /** A write failed lately: batches run isolated until one has no failing write. */
  #isolate = false;

  /**
   * `maxInFlight`: batches committing at once (more than one where commits do
   * not block the thread, or to fill the next batch while one syncs).
   */
  constructor(db: Kysely<DB>, maxInFlight: number, dialect: Pick<StoreDialect, "chainsStatements" | "pipelinesStatements">) {
    this.#db = db;
    this.#maxInFlight = maxInFlight;
    this.#chainsStatements = dialect.chainsStatements;
    this.#pipelines = dialect.pipelinesStatements;
  }

  /**
   * Runs `write` in the next batch; resolves with its value once the batch's
   * commit is durable. `sideBySide`: the key of what it changes; it may run
   * at the same time as the batch's other such writes to other keys (the
   * module's comment says when a write may).
   */
  run<T>(write: GroupedWrite<DB, T>, sideBySide?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#open === null) {
        this.#open = [];
        if (this.#inFlight < this.#maxInFlight) setImmediate(() => this.#commitOpenBatch());
      }
      this.#open.push({ write, sideBySide, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  #commitOpenBatch(): void {
    const batch = this.#open;
    if (batch === null) return;
    this.#open = null;
    this.#inFlight++;
    this.#commit(batch).finally(() => {
      this.#inFlight--;
      if (this.#open !== null) setImmediate(() => this.#commitOpenBatch());
    });
  }

  async #commit(batch: Pending<DB>[]): Promise<void> {
    if (batch.length === 1) return this.#commitAlone(batch[0]!);
    if (this.#isolate) return this.#commitIsolated(batch);
    let values: unknown[];
    let committing = false;
    try {
      values = await this.#transaction(async (trx) => {
        const done = new Map<Pending<DB>, unknown>();
        const together = this.#pipelines ? firstOfEachKey(batch) : [];
        const oneByOne = together.length > 1 ? batch.filter((pending) => !together.includes(pending)) : batch;
        if (together.length > 1) (await runTogether(trx, together)).forEach((value, i) => done.set(together[i]!, value));
        for (const pending of oneByOne) done.set(pending, await pending.write(trx));
        committing = true;
        return batch.map((pending) => done.get(pending));
      });
    } catch (error) {
      if (committing) batch.forEach((pending) => pending.reject(error));
      else {
        this.#isolate = true;
        await this.#commitIsolated(batch);
      }
      return;
    }
    batch.forEach((pending, i) => pending.resolve(values[i]));
  }

  /** A batch with each write in a savepoint of its own. */
  async #commitIsolated(batch: Pending<DB>[]): Promise<void> {
    let outcomes: Outcome[];
    let committing = false;
    try {
      outcomes = await this.#transaction(async (trx, left) => {
        const done: Outcome[] = [];
        await trx.executeQuery(START);
        for (const [i, pending] of batch.entries()) {
          done.push(await inSavepoint(trx, left, pending.write));
          if (i === batch.length - 1) await trx.executeQuery(RELEASE);
          else if (this.#chainsStatements) await trx.executeQuery(RELEASE_AND_START);
          else {
            await trx.executeQuery(RELEASE);
            await trx.executeQuery(START);
          }
        }
        committing = true;
        return done;
      });
    } catch (error) {
      if (committing) batch.forEach((pending) => pending.reject(error));
      else await Promise.all(batch.map((pending) => this.#commitAlone(pending)));
      return;
    }
    this.#isolate = outcomes.some((outcome) => !outcome.ok);
    await Promise.all(
      outcomes.map((outcome, i) => {
        const pending = batch[i]!;
        if (outcome.ok) pending.resolve(outcome.value);
        else if (isLockFailure(outcome.error)) return this.#commitAlone(pending);
        else pending.reject(outcome.error);
        return undefined;
      }),
    );
  }

  async #commitAlone(pending: Pending<DB>): Promise<void> {
    try {
      pending.resolve(await this.#transaction(pending.write));
    } catch (error) {
      pending.reject(error);
    }
  }

  /** A transaction running `body`, then the steps its writes left for its end. */
  #transaction<T>(body: (trx: Kysely<DB>, left: Left) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute(async (trx) => {
      const left: Left = [];
      leftIn.set(trx, left);
      const value = await body(trx, left);
      await runSteps(trx, left);
      return value;
    });
  }
}

/** The writes that may run side by side, the first of each key. */
function firstOfEachKey<DB>(batch: Pending<DB>[]): Pending<DB>[] {
  const keys = new Set<string>();
  return batch.filter(({ sideBySide: key }) => {
    if (key === undefined || keys.has(key)) return false;
    keys.add(key);
    return true;
  });
}

/**
 * Runs `writes` at once in `trx`, their prepared statements sent together.
 * Every write settles before the first error is thrown: none may still be
 * issuing statements when the transaction is rolled back.
 */
async function runTogether<DB>(trx: Kysely<DB>, writes: Pending<DB>[]): Promise<unknown[]> {
  const outcomes = await sendingTogether(trx, () => Promise.allSettled(writes.map((pending) => pending.write(trx))));
  return outcomes.map((outcome) => {
    if (outcome.status === "rejected") throw outcome.reason;
    return outcome.value;
  });
}

/** Each step once, in the order the writes first left it work, with all it was left. */
async function runSteps<DB>(trx: Kysely<DB>, left: Left): Promise<void> {
  if (left.length === 0) return;
  const steps = new Map<BatchStep<DB, unknown>, unknown[]>();
  for (const [step, item] of left) {
    const items = steps.get(step);
    if (items === undefined) steps.set(step, [item]);
    else items.push(item);
  }
  for (const [step, items] of steps) await step(trx, items);
}

/** Runs `write` in the savepoint begun for it, which the caller then releases; rolled back, what it left for the batch's end goes too. */
async function inSavepoint<DB>(trx: Kysely<DB>, left: Left, write: GroupedWrite<DB, unknown>): Promise<Outcome> {
  const mark = left.length;
  try {
    return { ok: true, value: await write(trx) };
  } catch (error) {
    await trx.executeQuery(ROLLBACK);
    left.length = mark;
    return { ok: false, error };
  }
}

function isLockFailure(error: unknown): boolean {
  return LOCK_FAILURES.has((error as { code?: unknown } | null)?.code as string);
}
