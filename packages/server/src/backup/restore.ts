/**
 * Restoring a backup into an empty store, SQLite or PostgreSQL, whichever
 * the backup came from. Offline: no server may be running on the target.
 *
 * Order, so that a refusal changes nothing and a failure leaves the store
 * empty:
 * 1. the root key (COFFER_ROOT_KEY or the data directory's key file; never
 *    made up) must open the backup: another key, a damaged file or a newer
 *    schema is refused before the target is even opened;
 * 2. the target must hold no rows, and no migration the backup lacks;
 * 3. the target is migrated to the backup's schema, every row goes in in one
 *    transaction (checked against the manifest's counts, and the restored
 *    keyring must open with the root key), then it is migrated to the latest
 *    schema as any start would.
 *
 * The root key is not copied anywhere: start the server on the restored store
 * with the same key source the restore used.
 */
import { BackupDamagedError, BackupRootKeyError, decryptBackup } from "../crypto/backup-cipher.ts";
import { Keyring, RootKeyMismatchError } from "../crypto/keyring.ts";
import { readRootKey, RootKeyError } from "../crypto/root-key.ts";
import { listDataKeys } from "../keys/keys.repository.ts";
import { loadInOneTransaction, storeState, type TableLoader } from "../store/load.ts";
import { KNOWN_MIGRATIONS, migrateTo, migrateToLatest } from "../store/migrate.ts";
import { openStore } from "../store/store.ts";
import { BACKUP_FORMAT, BackupFormatError, decodeBackup, type BackupRecord, type Manifest } from "./backup.format.ts";

export interface RestoreOptions {
  /** The backup file's bytes. */
  file: AsyncIterable<Uint8Array>;
  dataDir: string;
  databaseUrl?: string | undefined;
  /** COFFER_ROOT_KEY's value; otherwise the key file in dataDir. */
  rootKey?: string | undefined;
  onProgress?: (progress: RestoreProgress) => void;
}

export interface RestoreProgress {
  table: string;
  tablesDone: number;
  tables: number;
  rowsDone: number;
  rows: number;
}

/** A restore that was refused or failed; the target was left as it was (or empty). */
export class RestoreError extends Error {
  override name = "RestoreError";
}

export async function restoreBackup(options: RestoreOptions): Promise<{ manifest: Manifest; location: string }> {
  const rootKey = readRootKey({ dataDir: options.dataDir, envValue: options.rootKey });
  const keyring = new Keyring(rootKey.key);
  rootKey.key.fill(0);
  const records = decodeBackup(decryptBackup(options.file, (header) => keyring.backupCipher(header)));
  let changing = false;
  try {
    const manifest = await readManifest(records);
    const store = await openStore({ dataDir: options.dataDir, databaseUrl: options.databaseUrl, migrate: false });
    try {
      checkTarget(await storeState(store), manifest);
      changing = true;
      await migrateTo(store.db, store.dialect, manifest.migrations.at(-1)!);
      await loadInOneTransaction(store, async (loader) => {
        await loadRecords(records, manifest, (name, columns, binary) => loader.table(name, columns, binary), options.onProgress);
        // Read on past the end record, so the decoder and the cipher refuse anything appended to the file.
        if (!(await records.next()).done) throw new BackupFormatError("content after its end");
        const keys = await listDataKeys(loader.db);
        if (keys.map((key) => key.version).join() !== manifest.keyVersions.join()) throw new RestoreError("the restored keyring is not the one the manifest lists");
        keyring.load(keys);
      });
      await migrateToLatest(store.db, store.dialect);
      return { manifest, location: store.location };
    } finally {
      await store.close();
    }
  } catch (error) {
    throw explain(error, changing);
  } finally {
    keyring.clear();
    await records.return(undefined).catch(() => {});
  }
}

async function readManifest(records: AsyncGenerator<BackupRecord>): Promise<Manifest> {
  const first = await records.next();
  if (first.done || first.value.kind !== "manifest") throw new BackupFormatError("it does not start with a manifest");
  const manifest = first.value.manifest;
  if (manifest.format !== BACKUP_FORMAT) throw new RestoreError(`the backup has format ${manifest.format}; this Coffer reads format ${BACKUP_FORMAT}`);
  const unknown = manifest.migrations.filter((name) => !KNOWN_MIGRATIONS.includes(name));
  if (unknown.length > 0) throw new RestoreError(`the backup comes from a newer Coffer (schema migration ${unknown.join(", ")} is unknown here): upgrade Coffer, then restore`);
  if (manifest.migrations.length === 0 || manifest.migrations.some((name, i) => KNOWN_MIGRATIONS[i] !== name)) {
    throw new RestoreError(`the backup's schema (${manifest.migrations.join(", ") || "none"}) is not a stage of this Coffer's (${KNOWN_MIGRATIONS.join(", ")})`);
  }
  return manifest;
}

function checkTarget(state: { migrations: string[]; tablesWithRows: string[] }, manifest: Manifest): void {
  if (state.tablesWithRows.length > 0) {
    throw new RestoreError(`the target store is not empty (rows in ${state.tablesWithRows.join(", ")}): restore into a new data directory or an empty database`);
  }
  if (state.migrations.some((name, i) => manifest.migrations[i] !== name)) {
    throw new RestoreError(`the target store's schema (${state.migrations.join(", ")}) is newer than the backup's (${manifest.migrations.join(", ")}): restore into a new data directory or an empty database`);
  }
}

async function loadRecords(
  records: AsyncGenerator<BackupRecord>,
  manifest: Manifest,
  startTable: (name: string, columns: string[], binary: string[]) => Promise<TableLoader>,
  onProgress: RestoreOptions["onProgress"],
): Promise<void> {
  const expected = new Map(manifest.tables.map((table) => [table.name, table.rows]));
  const progress: RestoreProgress = { table: "", tablesDone: 0, tables: manifest.tables.length, rowsDone: 0, rows: manifest.tables.reduce((sum, table) => sum + table.rows, 0) };
  let current: { name: string; loader: TableLoader; rows: number } | undefined;
  const finishTable = () => {
    if (!current) return;
    if (current.rows !== expected.get(current.name)) throw new RestoreError(`table ${current.name} has ${current.rows} rows in the backup, but its manifest says ${expected.get(current.name)}`);
    expected.delete(current.name);
    progress.tablesDone++;
    onProgress?.({ ...progress });
  };
  for await (const record of records) {
    switch (record.kind) {
      case "table":
        finishTable();
        if (!expected.has(record.name)) throw new RestoreError(`table ${record.name} is not in the backup's manifest, or appears twice`);
        current = { name: record.name, loader: await startTable(record.name, record.columns, record.binary), rows: 0 };
        progress.table = record.name;
        break;
      case "rows":
        await current!.loader.insert(record.rows);
        current!.rows += record.rows.length;
        progress.rowsDone += record.rows.length;
        onProgress?.({ ...progress });
        break;
      case "end":
        finishTable();
        if (expected.size > 0) throw new RestoreError(`the backup lacks table(s) its manifest lists: ${[...expected.keys()].join(", ")}`);
        if (record.rows !== progress.rowsDone) throw new RestoreError("the backup's row count does not match its rows");
        return;
      case "manifest":
        throw new BackupFormatError("a second manifest");
    }
  }
  throw new BackupFormatError("it ends without its end record");
}

/** Says whether the target was touched: refusals before `changing` changed nothing, failures after it rolled back to an empty store. */
function explain(error: unknown, changing: boolean): Error {
  const outcome = changing ? "the restore was rolled back and the target store is empty" : "nothing was changed";
  if (error instanceof RootKeyMismatchError) return new RestoreError(`the root key does not open the keyring in the backup; ${outcome}`);
  const known = error instanceof RestoreError || error instanceof BackupRootKeyError || error instanceof BackupDamagedError || error instanceof BackupFormatError || error instanceof RootKeyError;
  const message = (error as Error)?.message ?? String(error);
  return new RestoreError(known ? `${message}; ${outcome}` : `restore failed (${message}); ${outcome}`);
}
