/**
 * What a backup says once decrypted: JSON lines, one record per line.
 *
 *   {"manifest": {format, createdAt, dialect, migrations, keyVersions, tables: [{name, rows}]}}
 *   {"table": "users", "columns": ["id", …], "binary": []}
 *   ["usr_…", "alice", …]                     one line per row, values in the columns' order
 *   …                                         (every table, parents before children, empty ones too)
 *   {"end": {"rows": 1234}}
 *
 * Values are JSON strings, numbers and nulls; a binary column's values are
 * base64 text. The manifest comes first, so a restore knows the schema and
 * the root key are right before it writes anything.
 */
import type { Snapshot, Value } from "../store/snapshot.ts";

export const BACKUP_FORMAT = 1;

export interface Manifest {
  format: number;
  createdAt: string;
  /** The store it came from: "sqlite" or "postgres". A backup restores into either. */
  dialect: string;
  /** The applied migrations, in order: the schema of the rows. */
  migrations: string[];
  /** The data key versions the keyring held. */
  keyVersions: number[];
  tables: { name: string; rows: number }[];
}

export type BackupRecord =
  | { kind: "manifest"; manifest: Manifest }
  | { kind: "table"; name: string; columns: string[]; binary: string[] }
  | { kind: "rows"; rows: Value[][] }
  | { kind: "end"; rows: number };

/** Plaintext pieces of about this size go to the encryption. */
const PIECE_BYTES = 64 * 1024;

export class BackupFormatError extends Error {
  constructor(what: string) {
    super(`the backup's content is not what Coffer writes: ${what}`);
    this.name = "BackupFormatError";
  }
}

/** The plaintext of a backup of `snapshot`, as pieces of about PIECE_BYTES. */
export async function* encodeBackup(snapshot: Snapshot, manifest: Manifest): AsyncGenerator<Buffer> {
  let lines: string[] = [JSON.stringify({ manifest })];
  let size = lines[0]!.length;
  let total = 0;
  for (const table of snapshot.tables) {
    lines.push(JSON.stringify({ table: table.name, columns: table.columns, binary: table.binary }));
    const binaryAt = table.binary.map((name) => table.columns.indexOf(name));
    for await (const batch of snapshot.rows(table)) {
      for (const row of batch) {
        for (const index of binaryAt) {
          const value = row[index];
          if (value instanceof Uint8Array) row[index] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
        }
        const line = JSON.stringify(row);
        lines.push(line);
        size += line.length + 1;
        if (size >= PIECE_BYTES) {
          yield Buffer.from(lines.join("\n") + "\n", "utf8");
          lines = [];
          size = 0;
        }
      }
      total += batch.length;
    }
  }
  lines.push(JSON.stringify({ end: { rows: total } }));
  yield Buffer.from(lines.join("\n") + "\n", "utf8");
}

/** Reads records back from decrypted plaintext; binary values come back as Buffers. */
export async function* decodeBackup(plaintext: AsyncIterable<Buffer>): AsyncGenerator<BackupRecord> {
  let partial = "";
  let binaryAt: number[] = [];
  let columns = 0;
  let state: "start" | "body" | "ended" = "start";
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for await (const piece of plaintext) {
    const text = partial + decoder.decode(piece, { stream: true });
    const lines = text.split("\n");
    partial = lines.pop()!;
    const rows: Value[][] = [];
    for (const line of lines) {
      if (state === "ended") throw new BackupFormatError("content after its end");
      const parsed = parse(line);
      if (Array.isArray(parsed)) {
        if (state !== "body" || columns === 0) throw new BackupFormatError("a row outside a table");
        if (parsed.length !== columns) throw new BackupFormatError(`a row of ${parsed.length} values in a table of ${columns} columns`);
        for (const index of binaryAt) {
          const value = parsed[index];
          if (typeof value === "string") parsed[index] = Buffer.from(value, "base64");
          else if (value !== null) throw new BackupFormatError("a binary value that is not base64 text");
        }
        rows.push(parsed as Value[]);
        continue;
      }
      if (rows.length > 0) yield { kind: "rows", rows: rows.splice(0) };
      const record = recordOf(parsed, state);
      if (record.kind === "table") {
        columns = record.columns.length;
        binaryAt = record.binary.map((name) => record.columns.indexOf(name));
        if (binaryAt.includes(-1)) throw new BackupFormatError(`table ${record.name} names a binary column it does not have`);
      }
      state = record.kind === "end" ? "ended" : "body";
      yield record;
    }
    if (rows.length > 0) yield { kind: "rows", rows };
  }
  if (partial !== "" || state !== "ended") throw new BackupFormatError("it ends without its end record");
}

function parse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new BackupFormatError("a line is not JSON");
  }
}

function recordOf(parsed: unknown, state: "start" | "body"): Exclude<BackupRecord, { kind: "rows" }> {
  const object = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (state === "start") {
    const manifest = object.manifest as Manifest | undefined;
    if (!isManifest(manifest)) throw new BackupFormatError("it does not start with a manifest");
    return { kind: "manifest", manifest };
  }
  if (typeof object.table === "string" && isStrings(object.columns) && isStrings(object.binary)) {
    return { kind: "table", name: object.table, columns: object.columns, binary: object.binary };
  }
  const end = object.end as { rows?: unknown } | undefined;
  if (end && typeof end.rows === "number") return { kind: "end", rows: end.rows };
  throw new BackupFormatError("an unknown record");
}

function isManifest(value: Manifest | undefined): value is Manifest {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof value.format === "number" &&
    typeof value.createdAt === "string" &&
    typeof value.dialect === "string" &&
    isStrings(value.migrations) &&
    Array.isArray(value.keyVersions) &&
    value.keyVersions.every((version) => Number.isInteger(version)) &&
    Array.isArray(value.tables) &&
    value.tables.every((table) => typeof table?.name === "string" && Number.isInteger(table.rows))
  );
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
