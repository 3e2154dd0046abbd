/**
 * coffer operator migrate --to postgres://…: the embedded SQLite store into
 * PostgreSQL, offline, with progress and a verify step.
 */
import { parse, positionals } from "../args.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { meter } from "./backup.ts";

const HELP = `Usage: coffer operator migrate --to postgres://USER@HOST:5432/DB [--data-dir DIR] [--replace]

Moves the embedded SQLite store into PostgreSQL, for running several server
nodes on one database. Stop the server first: writes made while this runs
would not be copied.

Every row is copied as stored (secrets stay encrypted; nothing is decrypted),
in one transaction, then verified: each table's row count must match, and the
audit log's hash chain must verify on PostgreSQL and end where SQLite's did.
A failure leaves the target as it was. Afterwards start every node with
--database-url and the same root key the SQLite server used (copy the key file
root.key from the data directory, or set the same COFFER_ROOT_KEY; Shamir
stores need their shares). The SQLite store is left untouched: keep it until
the new nodes run.

Options:
  --to URL          the PostgreSQL database (required); keep its password out
                    of the URL (argv is visible to ps): PGPASSWORD or ~/.pgpass
  --data-dir DIR    the data directory holding coffer.db (env COFFER_DATA_DIR; default ./.coffer)
  --replace         the target already holds rows: delete them first (otherwise refused)

Example:
  coffer server …  (stopped)
  PGPASSWORD=… coffer operator migrate --data-dir /var/lib/coffer --to postgres://coffer@db.internal:5432/coffer
  coffer server --database-url postgres://coffer@db.internal:5432/coffer …`;

export async function run(argv: string[]): Promise<void> {
  const parsed = parse("operator migrate", argv, { to: { type: "string" }, "data-dir": { type: "string" }, replace: { type: "boolean" } }, HELP);
  if (!parsed) return;
  positionals("operator migrate", parsed.positionals, []);
  const to = parsed.values.to;
  if (!to) throw new CliError("--to postgres://… is required; run 'coffer operator migrate --help'", EXIT.usage);
  const dataDir = parsed.values["data-dir"] ?? process.env.COFFER_DATA_DIR ?? ".coffer";
  const { migrateStore, MigrateError } = await import("@coffer/server");
  const copying = meter("copy");
  let verifying: ReturnType<typeof meter> | undefined;
  try {
    const report = await migrateStore({
      dataDir,
      to,
      replace: parsed.values.replace ?? false,
      onProgress: (p) => {
        if (p.step === "copy") return copying.update(`table ${p.tablesDone + 1}/${p.tables} (${p.table}), row ${p.rowsDone}/${p.rows}`);
        if (!verifying) {
          copying.end();
          verifying = meter("verify");
        }
        verifying.update(`${p.table}: ${p.rows} rows`);
      },
    });
    verifying?.end();
    process.stdout.write(
      `Migrated ${dataDir} into ${report.location}: ${report.tables.length} tables, ${report.rows} rows; ` +
        `counts match and the audit chain verifies (${report.audit.checked} events).\n` +
        "Start every node with --database-url and the root key the SQLite server used.\n",
    );
  } catch (error) {
    copying.end();
    verifying?.end();
    if (error instanceof MigrateError) throw new CliError(error.message, EXIT.failure);
    throw error;
  }
}
