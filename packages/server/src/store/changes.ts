/**
 * Cache invalidation across server nodes. A node that changes something a
 * cache may hold publishes a change inside the writing transaction: on
 * PostgreSQL that is NOTIFY, delivered to every node exactly when the
 * transaction commits; on the embedded store there is one node. The writer
 * also applies the change to its own caches as soon as the commit returns.
 */
import { randomBytes } from "node:crypto";
import type { Client } from "pg";
import { sql, type Kysely } from "kysely";
import { atBatchEnd } from "./group-commit.ts";
import { execute, prepared } from "./prepared.ts";

export type Change =
  | { kind: "secret"; id: string; workspaceId: string; scope: string; ownerId: string; name: string }
  | { kind: "workspace"; id: string }
  /** Grants, groups or memberships of a workspace changed. */
  | { kind: "access"; workspaceId: string }
  | { kind: "token"; id: string }
  | { kind: "user"; id: string }
  | { kind: "keyring" }
  /** A base-URL relay route was put or deleted. */
  | { kind: "relayRoute"; workspaceId: string; name: string }
  /** An approval request was decided or expired: the node where its use waits wakes up. */
  | { kind: "approval"; id: string }
  /** Anything may have changed (a lost connection to the feed): drop every cache. */
  | { kind: "all" };

export type ChangeListener = (change: Change) => void;

const CHANNEL = "coffer_changes";

export interface ChangeFeed {
  /** Announces `change` to other nodes when `db`'s transaction commits. */
  announce(db: Kysely<any>, change: Change): Promise<void>;
  /** Applies `change` to this node's caches. */
  apply(change: Change): void;
  /**
   * Resolves once every change committed anywhere before the call has been
   * applied here, so a cache read after it shows every write answered
   * before; rejects when that cannot be known (the feed is not listening).
   */
  barrier(): Promise<void>;
  subscribe(listener: ChangeListener): () => void;
  close(): Promise<void>;
}

class Listeners {
  #listeners = new Set<ChangeListener>();
  apply(change: Change): void {
    for (const listener of this.#listeners) listener(change);
  }
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

export function localChangeFeed(): ChangeFeed {
  const listeners = new Listeners();
  return {
    announce: async () => {},
    apply: (change) => listeners.apply(change),
    // One node: its writes are applied when they commit.
    barrier: async () => {},
    subscribe: (listener) => listeners.subscribe(listener),
    close: async () => {},
  };
}

/** How often the listening connection is asked for a round trip, and how long an answer may take. */
const PING_EVERY_MS = 1_000;
const PING_TIMEOUT_MS = 2_000;
/** Reconnect attempts wait this long at first, doubling up to the cap. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;
/** Seen in pg_stat_activity: operators (and tests) can find the listening connection. */
export const LISTEN_APPLICATION_NAME = "coffer-changes";

/**
 * A notification per change, each as it would be alone (what nodes of every
 * version read), from one statement: the changes go as one JSON array, whose
 * elements PostgreSQL's json type gives back as the very text each was
 * written as (a text[] parameter would have pg escape every quote of every
 * change).
 */
const notifyEach = prepared((db: Kysely<any>, p: { changes: string }) => ({
  compile: () => sql`select pg_notify(${CHANNEL}, change::text) from json_array_elements(${p.changes}::json) as change`.compile(db),
}));

async function notify(db: Kysely<any>, changes: Change[]): Promise<void> {
  await execute(db, notifyEach(db, { changes: JSON.stringify(changes) }));
}

/**
 * NOTIFY reaches only connections listening when it is sent, so a lost
 * listening connection means lost invalidations. It is noticed three ways:
 * its error and end events (a terminated backend, a restarted server), and a
 * ping every second that must answer within two (a connection that died
 * silently). Then every cache is dropped, and dropped again every second
 * until the feed listens again (what is cached meanwhile might miss a
 * change), and once more when it does (changes between the last drop and
 * LISTEN). Reconnection backs off from 0.1 s to 5 s.
 */
export async function postgresChangeFeed(connectionString: string, onError: (error: Error) => void, log: (message: string) => void = () => {}): Promise<ChangeFeed> {
  const listeners = new Listeners();
  const barriers = new Barriers();
  let client: Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let retryMs = RETRY_FIRST_MS;
  let lostAt = 0;
  const flushAll = () => listeners.apply({ kind: "all" });

  async function connect(): Promise<void> {
    const { default: pg } = await import("pg");
    const next = new pg.Client({ connectionString, application_name: LISTEN_APPLICATION_NAME, query_timeout: PING_TIMEOUT_MS, keepAlive: true });
    next.on("notification", (message) => {
      if (message.channel === barriers.channel) return barriers.arrived(message.payload);
      if (message.channel !== CHANNEL || !message.payload) return;
      try {
        listeners.apply(JSON.parse(message.payload) as Change);
      } catch {
        flushAll();
      }
    });
    next.on("error", (error) => lost(next, error));
    next.on("end", () => lost(next, new Error("the connection ended")));
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANNEL}`);
      await next.query(`LISTEN ${barriers.channel}`);
    } catch (error) {
      next.removeAllListeners("end");
      await next.end().catch(() => {});
      throw error;
    }
    if (closed) {
      await next.end();
      return;
    }
    client = next;
    barriers.listening(next);
    retryMs = RETRY_FIRST_MS;
    if (lostAt > 0) {
      flushAll();
      log(`change feed listening again after ${Date.now() - lostAt} ms; caches dropped`);
      lostAt = 0;
    }
    const ping = setInterval(() => {
      if (client !== next) return clearInterval(ping);
      next.query("select 1").catch((error: Error) => lost(next, error));
    }, PING_EVERY_MS);
    ping.unref();
  }

  /** The connection `which` is gone: flush now, keep flushing until listening again, and reconnect. */
  function lost(which: Client, error: Error): void {
    if (closed || client !== which) return;
    client = undefined;
    barriers.listening(undefined, error);
    which.removeAllListeners("end");
    which.end().catch(() => {});
    lostAt = Date.now();
    onError(new Error(`change feed lost (${error.message}): caches dropped until it listens again; reconnecting`));
    flushAll();
    const flushing = setInterval(() => (client || closed ? clearInterval(flushing) : flushAll()), PING_EVERY_MS);
    flushing.unref();
    schedule();
  }

  function schedule(): void {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch((error: Error) => {
        onError(new Error(`change feed: reconnecting failed (${error.message}); next try in ${retryMs} ms`));
        schedule();
      });
    }, retryMs);
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
    retry.unref();
  }

  await connect();
  return {
    // A group-committed batch's changes go in one statement at its end: a round trip per batch, not per write.
    announce: async (db, change) => {
      if (!atBatchEnd(db, notify, change)) await notify(db, [change]);
    },
    apply: (change) => listeners.apply(change),
    barrier: () => barriers.ask(),
    subscribe: (listener) => listeners.subscribe(listener),
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      const current = client;
      client = undefined;
      barriers.listening(undefined, new Error("the change feed is closed"));
      await current?.end();
    },
  };
}

/**
 * ChangeFeed.barrier on PostgreSQL. NOTIFY delivers the notifications of
 * different transactions in the order the transactions committed, and a
 * session listening on a channel hears its own NOTIFY on it: so a NOTIFY
 * this node sends on its listening connection, on a channel only it listens
 * to, arrives after the notification of every change committed before it,
 * and once it has arrived those have been applied. All barriers asked for
 * while one is out share the next one: one statement per round, however
 * many lists wait.
 */
class Barriers {
  /** Unique to this feed: other nodes never hear this node's barriers. */
  readonly channel = `coffer_barrier_${randomBytes(8).toString("hex")}`;
  #client: Client | undefined;
  #asked: Waiter[] = [];
  #out: { token: string; waiters: Waiter[] } | undefined;
  #sent = 0;

  ask(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#asked.push({ resolve, reject });
      if (this.#out === undefined) this.#send();
    });
  }

  /** The connection barriers go out on now; undefined (and why) while there is none: every barrier waiting fails. */
  listening(client: Client | undefined, why?: Error): void {
    this.#client = client;
    if (client === undefined) {
      this.#finish(why ?? new Error("the change feed is not listening"));
      settle(this.#asked.splice(0), new Error("the change feed is not listening"));
    }
  }

  arrived(token: string | undefined): void {
    if (this.#out !== undefined && token === this.#out.token) this.#finish();
  }

  #send(): void {
    const client = this.#client;
    const waiters = this.#asked.splice(0);
    if (client === undefined) return settle(waiters, new Error("the change feed is not listening"));
    const token = String(++this.#sent);
    this.#out = { token, waiters };
    // Its order among commits is all that counts, not its durability: committed without waiting for the WAL flush.
    client.query("select pg_notify($1, $2), set_config('synchronous_commit', 'off', true)", [this.channel, token]).then(
      // The connection hands a session its own notifications before the statement's end.
      () => this.#out?.token === token && this.#finish(new Error("a barrier's notification did not arrive")),
      (error: Error) => this.#out?.token === token && this.#finish(error),
    );
  }

  #finish(error?: Error): void {
    const out = this.#out;
    if (out === undefined) return;
    this.#out = undefined;
    settle(out.waiters, error);
    if (this.#asked.length > 0) this.#send();
  }
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

function settle(waiters: Waiter[], error?: Error): void {
  for (const waiter of waiters) {
    if (error) waiter.reject(error);
    else waiter.resolve();
  }
}
