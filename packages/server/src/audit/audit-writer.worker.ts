/**
 * The audit writer thread for the embedded store. A SQLite commit with
 * synchronous=FULL waits for the disk, and node:sqlite waits on the calling
 * thread; here it waits on this one, so the server keeps answering while a
 * batch becomes durable. It has its own connection to the same file.
 */
import { CamelCasePlugin, Kysely } from "kysely";
import { parentPort, workerData } from "node:worker_threads";
import { sqliteDialect } from "../store/dialect.ts";
import { openSqlite } from "../store/sqlite.ts";
import type { Tables } from "../store/tables.ts";
import { appendInTransaction } from "./audit-append.ts";
import type { AuditEventInput } from "./audit.types.ts";

const { dialect } = openSqlite((workerData as { path: string }).path);
const db = new Kysely<Tables>({ dialect, plugins: [new CamelCasePlugin()] });

parentPort!.on("message", ({ id, events }: { id: number; events: AuditEventInput[] }) => {
  db.transaction()
    .execute((trx) => appendInTransaction(trx, sqliteDialect, events))
    .then(
      (records) => parentPort!.postMessage({ id, records }),
      (error: Error) => parentPort!.postMessage({ id, error: error.message }),
    );
});
