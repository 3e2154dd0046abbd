/**
 * `coffer operator backup FILE` and `coffer operator restore FILE`.
 *
 * backup asks the running server for a snapshot and streams it to a 0600
 * temp file next to FILE, renamed over FILE only once complete, so FILE is
 * never a partial backup. restore works offline, on the store directly.
 */
import { closeSync, createReadStream, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { CliError, EXIT } from "../cli-error.ts";

const HELP = `Usage: coffer operator backup FILE [--force] [--addr URL]
       coffer operator restore FILE [--data-dir DIR | --database-url URL]

backup   writes a consistent snapshot of the whole store (every table: secrets
         and their versions, users, groups, grants, tokens, keyring, audit log)
         to FILE while the server keeps running. The file is encrypted under a
         key derived from the server's root key: it is useless without it, and
         so is keeping the two together. Mode 0600; progress on stderr.
restore  loads a backup into an EMPTY store, SQLite or PostgreSQL, whichever
         the backup came from. The server must not be running on the target.
         It needs the same root key: COFFER_ROOT_KEY, or the root.key file in
         the data directory (copy it there). Nothing is written unless it all
         goes in; a non-empty store, another root key or a damaged file is
         refused. Then start the server with the same root key.

Options:
  --force              backup: overwrite FILE if it exists
  --addr URL           backup: server address (default: COFFER_ADDR, the one 'coffer login' saved, or http://127.0.0.1:8200)
  --data-dir DIR       restore: data directory: SQLite store and root key file (env COFFER_DATA_DIR; default ./.coffer)
  --database-url URL   restore: restore into this PostgreSQL database instead (env COFFER_DATABASE_URL)
  -h, --help           show this help

backup needs an administrator's full-scope token (COFFER_TOKEN, or the
session 'coffer login' saved).

Examples:
  coffer operator backup /backups/coffer-$(date +%F).cbk
  COFFER_ROOT_KEY=… coffer operator restore /backups/coffer-2026-01-31.cbk --database-url postgres://…`;

export async function run(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        force: { type: "boolean" },
        addr: { type: "string" },
        "data-dir": { type: "string" },
        "database-url": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message}; run 'coffer operator backup --help'`, EXIT.usage);
  }
  const { values, positionals } = parsed;
  const [task, file, ...extra] = positionals;
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return;
  }
  if (!file || extra.length > 0) throw new CliError(`usage: coffer operator ${task} FILE; run 'coffer operator backup --help'`, EXIT.usage);
  if (task === "backup") {
    if (values["data-dir"] || values["database-url"]) throw new CliError("backup takes the snapshot from the running server: --data-dir and --database-url are for restore", EXIT.usage);
    await backup(file, values.force ?? false, values.addr);
  } else {
    if (values.force || values.addr) throw new CliError("restore works on the store directly: --force and --addr are for backup", EXIT.usage);
    await restore(file, values["data-dir"], values["database-url"]);
  }
}

async function backup(file: string, force: boolean, addr: string | undefined): Promise<void> {
  if (!force && existsSync(file)) throw new CliError(`${file} exists; --force overwrites it`, EXIT.conflict);
  const { connect } = await import("../client.ts");
  const { coffer } = connect({ addr });
  const { body, tables, rows } = await coffer.backup();
  const temp = `${file}.${process.pid}.partial`;
  let fd: number;
  try {
    fd = openSync(temp, "wx", 0o600);
  } catch (error) {
    await body.cancel();
    throw new CliError(`cannot write ${temp}: ${(error as Error).message}`);
  }
  const progress = meter(`backup of ${tables} tables, ${rows} rows`);
  let bytes = 0;
  try {
    for await (const chunk of body) {
      for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
      bytes += chunk.length;
      progress.update(`${formatBytes(bytes)} received`);
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, file);
  } catch (error) {
    progress.end();
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temp, { force: true });
    throw new CliError(`the backup did not complete, nothing was written to ${file}: ${(error as Error).message}`, EXIT.unavailable);
  }
  progress.end();
  process.stdout.write(`Wrote ${file} (${formatBytes(bytes)}): ${tables} tables, ${rows} rows. Restoring it needs this server's root key.\n`);
}

async function restore(file: string, dataDirFlag: string | undefined, databaseUrlFlag: string | undefined): Promise<void> {
  try {
    if (!statSync(file).isFile()) throw new Error("not a file");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, EXIT.notFound);
  }
  const env = process.env;
  const { restoreBackup, RestoreError } = await import("@coffer/server");
  const progress = meter("restore");
  try {
    const { manifest, location } = await restoreBackup({
      file: createReadStream(file),
      dataDir: dataDirFlag ?? env.COFFER_DATA_DIR ?? ".coffer",
      databaseUrl: databaseUrlFlag ?? env.COFFER_DATABASE_URL,
      rootKey: env.COFFER_ROOT_KEY,
      onProgress: (p) => progress.update(`table ${p.tablesDone}/${p.tables} (${p.table}), row ${p.rowsDone}/${p.rows}`),
    });
    progress.end();
    const rows = manifest.tables.reduce((sum, table) => sum + table.rows, 0);
    process.stdout.write(
      `Restored ${file} into ${location}: ${manifest.tables.length} tables, ${rows} rows (a backup of a ${manifest.dialect} store taken ${manifest.createdAt}).\n` +
        "Start the server on it with the same root key.\n",
    );
  } catch (error) {
    progress.end();
    if (error instanceof RestoreError) throw new CliError(error.message);
    throw error;
  }
}

/** Progress on stderr: one line rewritten in place on a terminal, start and end lines otherwise. */
export function meter(what: string): { update(state: string): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  let last = "";
  let shownAt = 0;
  process.stderr.write(`${what}…${tty ? "" : "\n"}`);
  return {
    update(state) {
      last = state;
      const now = Date.now();
      if (!tty || now - shownAt < 100) return;
      shownAt = now;
      process.stderr.write(`\r\x1b[K${what}: ${state}`);
    },
    end() {
      if (last) process.stderr.write(tty ? `\r\x1b[K${what}: ${last}\n` : `${what}: ${last}\n`);
      else if (tty) process.stderr.write("\n");
    },
  };
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
