/**
 * Taking a backup while the server runs: one consistent snapshot of every
 * table (store/snapshot.ts), written as JSON lines (backup.format.ts) and
 * encrypted as a whole under a key derived from the root key
 * (crypto/backup-cipher.ts), streamed as it is read.
 *
 * What is in it: every table the store has, found by asking the database,
 * so a table added by a later migration is in it without anyone listing it.
 * The audit log is included (it is evidence); Kysely's migration bookkeeping
 * is not: the manifest names the applied migrations instead, and a restore
 * replays them. Secret values stay envelope-encrypted inside it, data keys
 * stay wrapped by the root key, and the whole stream is encrypted again, so
 * names, usernames and the audit trail are not readable either.
 */
import { Readable } from "node:stream";
import type { Clock } from "../core/clock.ts";
import { encryptBackup } from "../crypto/backup-cipher.ts";
import type { Keyring } from "../crypto/keyring.ts";
import type { Snapshot } from "../store/snapshot.ts";
import type { Store } from "../store/store.ts";
import { BACKUP_FORMAT, encodeBackup, type Manifest } from "./backup.format.ts";

/** Where the keyring's wrapped data keys live; the manifest lists their versions. */
const DATA_KEYS_TABLE = "data_keys";

export interface BackupStream {
  manifest: Manifest;
  /** The file's bytes. The snapshot ends when it has been read to the end or destroyed. */
  body: Readable;
}

export class BackupService {
  #store: Store;
  #keyring: Keyring;
  #clock: Clock;

  constructor(store: Store, keyring: Keyring, clock: Clock) {
    this.#store = store;
    this.#keyring = keyring;
    this.#clock = clock;
  }

  async open(): Promise<BackupStream> {
    const cipher = this.#keyring.backupCipher();
    let snapshot: Snapshot;
    try {
      snapshot = await this.#store.snapshot();
    } catch (error) {
      cipher.clear();
      throw error;
    }
    try {
      const manifest: Manifest = {
        format: BACKUP_FORMAT,
        createdAt: new Date(this.#clock()).toISOString(),
        dialect: snapshot.dialect,
        migrations: snapshot.migrations,
        keyVersions: await keyVersions(snapshot),
        tables: snapshot.tables.map((table) => ({ name: table.name, rows: table.rows })),
      };
      const file = (async function* () {
        try {
          yield* encryptBackup(cipher, encodeBackup(snapshot, manifest));
        } finally {
          cipher.clear();
          await snapshot.close();
        }
      })();
      return { manifest, body: await startedReadable(file) };
    } catch (error) {
      cipher.clear();
      await snapshot.close();
      throw error;
    }
  }
}

async function keyVersions(snapshot: Snapshot): Promise<number[]> {
  const table = snapshot.tables.find((candidate) => candidate.name === DATA_KEYS_TABLE);
  if (!table) return [];
  const at = table.columns.indexOf("version");
  const versions: number[] = [];
  for await (const batch of snapshot.rows(table)) for (const row of batch) versions.push(Number(row[at]));
  return versions.sort((a, b) => a - b);
}

/**
 * A Readable over `source`, whose first piece has already been read. A
 * generator that never started ignores return(), so its `finally` (which
 * ends the snapshot) would never run if the reader went away before the
 * first read; a started one runs it when the stream is destroyed.
 */
async function startedReadable(source: AsyncGenerator<Buffer>): Promise<Readable> {
  const first = await source.next();
  const stream = new Readable({
    read() {
      source.next().then(
        ({ value, done }) => this.push(done ? null : value),
        (error: Error) => this.destroy(error),
      );
    },
    destroy(error, callback) {
      source.return(undefined).then(
        () => callback(error),
        (failure: Error) => callback(error ?? failure),
      );
    },
  });
  if (first.done) stream.push(null);
  else stream.push(first.value);
  return stream;
}
