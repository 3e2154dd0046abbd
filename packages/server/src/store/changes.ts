/**
 * Cache invalidation across server nodes. A node that changes something a
 * cache may hold publishes a change inside the writing transaction: on
 * PostgreSQL that is NOTIFY, delivered to every node exactly when the
 * transaction commits; on the embedded store there is one node. The writer
 * also applies the change to its own caches as soon as the commit returns.
 */
import pg from "pg";
import { sql, type Kysely } from "kysely";

export type Change =
  | { kind: "secret"; id: string; workspaceId: string; scope: string; ownerId: string; name: string }
  | { kind: "workspace"; id: string }
  /** Grants, groups or memberships of a workspace changed. */
  | { kind: "access"; workspaceId: string }
  | { kind: "token"; id: string }
  | { kind: "user"; id: string }
  | { kind: "keyring" }
  /** Anything may have changed (a lost connection to the feed): drop every cache. */
  | { kind: "all" };

export type ChangeListener = (change: Change) => void;

const CHANNEL = "coffer_changes";

export interface ChangeFeed {
  /** Announces `change` to other nodes when `db`'s transaction commits. */
  announce(db: Kysely<any>, change: Change): Promise<void>;
  /** Applies `change` to this node's caches. */
  apply(change: Change): void;
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
    subscribe: (listener) => listeners.subscribe(listener),
    close: async () => {},
  };
}

export async function postgresChangeFeed(connectionString: string, onError: (error: Error) => void): Promise<ChangeFeed> {
  const listeners = new Listeners();
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  async function connect(): Promise<void> {
    const next = new pg.Client({ connectionString });
    next.on("notification", (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      try {
        listeners.apply(JSON.parse(message.payload) as Change);
      } catch {
        listeners.apply({ kind: "all" });
      }
    });
    next.on("error", (error) => {
      onError(error);
      reconnect();
    });
    next.on("end", () => reconnect());
    await next.connect();
    await next.query(`LISTEN ${CHANNEL}`);
    client = next;
  }

  function reconnect(): void {
    if (closed || retry) return;
    client = undefined;
    // Notifications sent while we were away are lost: forget everything cached.
    listeners.apply({ kind: "all" });
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch((error: Error) => {
        onError(error);
        reconnect();
      });
    }, 1000);
    retry.unref();
  }

  await connect();
  return {
    announce: async (db, change) => {
      await sql`select pg_notify(${CHANNEL}, ${JSON.stringify(change)})`.execute(db);
    },
    apply: (change) => listeners.apply(change),
    subscribe: (listener) => listeners.subscribe(listener),
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end();
    },
  };
}
