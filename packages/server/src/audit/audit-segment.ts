/**
 * How the audit log is stored: one row per appended batch, a segment. A
 * segment holds its events as lines of JSON (each event's chain line with its
 * hash appended), plus a summary for queries: its seq range, its time range
 * and the keys (workspaces, secrets, actors) its events name.
 *
 * One row per batch instead of one per event is what keeps the audited read
 * cheap: an append is one insert of a few kilobytes, not dozens of indexed
 * rows. Queries narrow by the summary, then read the events of the segments
 * that may match.
 */
import { EVENT_FIELDS, eventLine, lineHash, type ChainPoint, type ChainProblem } from "./audit-chain.ts";
import type { AuditEventInput, AuditRecord } from "./audit.types.ts";
import type { Tables } from "../store/tables.ts";

export type SegmentRow = Tables["auditSegments"];

/** Prefixes of the lines of `keys`, one per thing a query can look up. */
export const KEY = { workspace: "w:", secret: "s:", actor: "a:" } as const;

/** The events of one batch put on the chain after `head`: their records, the row that stores them, and the new head. */
export function chainSegment(head: ChainPoint, events: AuditEventInput[]): { records: AuditRecord[]; row: SegmentRow; head: ChainPoint } {
  let { seq, hash } = head;
  const lines = new StoredLines();
  const records = events.map((event) => {
    seq++;
    const line = eventLine(seq, event);
    hash = lineHash(hash, line);
    lines.add(line, hash);
    return { ...event, seq, hash };
  });
  return { records, row: rowOf(records, lines.bytes()), head: { seq, hash } };
}

/** The row for events already on the chain, with the hashes they have (a migration moving them). */
export function segmentOf(records: AuditRecord[]): SegmentRow {
  const lines = new StoredLines();
  for (const record of records) lines.add(eventLine(record.seq, record), record.hash);
  return rowOf(records, lines.bytes());
}

/**
 * A segment's `events`: each hashed line with its hash as the last element
 * (`[seq, …, requestId, hash]`), a line break between two, in UTF-8. Written
 * straight into bytes, where a string per stored line and the whole segment
 * joined into one more would be copied again into the bytes stored.
 */
class StoredLines {
  #length = 0;

  add(line: string, hash: string): void {
    let buffer = this.#room(line.length * 3 + hash.length + 4);
    let at = this.#length;
    if (at > 0) buffer[at++] = NEWLINE;
    // The line without its closing `]` (one byte in UTF-8), then `,"<hash>"]`.
    at += buffer.write(line, at, "utf8") - 1;
    buffer[at++] = COMMA;
    buffer[at++] = QUOTE;
    at += buffer.write(hash, at, "latin1");
    buffer[at++] = QUOTE;
    buffer[at++] = CLOSE;
    this.#length = at;
  }

  /** A buffer of its own: the one written into is the next segment's too. */
  bytes(): Buffer {
    return Buffer.from(written.subarray(0, this.#length));
  }

  #room(more: number): Buffer {
    if (this.#length + more > written.length) {
      const larger = Buffer.allocUnsafeSlow(Math.max(2 * written.length, this.#length + more));
      written.copy(larger, 0, 0, this.#length);
      written = larger;
    }
    return written;
  }
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const QUOTE = 0x22;
const CLOSE = 0x5d;
/** Segments are made one at a time (synchronously), each written here first; it grows to the largest batch's size. */
let written = Buffer.allocUnsafeSlow(64 * 1024);

function rowOf(records: AuditRecord[], events: Buffer): SegmentRow {
  const last = records.at(-1)!;
  return {
    firstSeq: records[0]!.seq,
    lastSeq: last.seq,
    ...summaryOf(records),
    lastHash: last.hash,
    events,
  };
}

/** What a segment's summary columns say about its events. */
export function summaryOf(records: AuditEventInput[]): Pick<SegmentRow, "minTime" | "maxTime" | "keys"> {
  let minTime = Infinity;
  let maxTime = -Infinity;
  // A set per kind, prefixed at the end: a batch names the same few things many times over.
  const workspaces = new Set<string | null>();
  const secrets = new Set<string | null>();
  const actors = new Set<string | null>();
  for (const record of records) {
    if (record.time < minTime) minTime = record.time;
    if (record.time > maxTime) maxTime = record.time;
    workspaces.add(record.workspaceId);
    secrets.add(record.secretId).add(record.secretName);
    actors.add(record.actorId).add(record.actorName);
  }
  const prefixed = (prefix: string, values: Set<string | null>) => [...values].filter((value) => value !== null).map((value) => prefix + value);
  const keys = [...prefixed(KEY.workspace, workspaces), ...prefixed(KEY.secret, secrets), ...prefixed(KEY.actor, actors)];
  return { minTime, maxTime, keys: keyLines(keys) };
}

/** Keys one a line, with a line break before the first and after the last, so a lookup can match `\nkey\n` whole. */
export function keyLines(keys: string[]): string {
  return `\n${keys.join("\n")}\n`;
}

/** The events a segment holds, oldest first. Throws on a segment that is not made of event lines (tampering). */
export function eventsOf(row: Pick<SegmentRow, "events">): AuditRecord[] {
  return utf8.decode(row.events).split("\n").map(recordOf);
}

const utf8 = new TextDecoder();

/**
 * A segment's events, and what is wrong with the segment itself: events that
 * cannot be read, or a summary that does not match them (which would hide
 * events from queries). The chain check of the events comes first: it says
 * which event was edited.
 */
export function segmentProblem(row: SegmentRow): { events: AuditRecord[]; problem: ChainProblem | null } {
  const range = `events ${row.firstSeq}..${row.lastSeq}`;
  let events: AuditRecord[];
  try {
    events = eventsOf(row);
  } catch {
    return { events: [], problem: { seq: row.firstSeq, reason: `${range} cannot be read: their segment was altered` } };
  }
  const summary = summaryOf(events);
  const last = events.at(-1)!;
  const matches =
    row.firstSeq === events[0]!.seq &&
    row.lastSeq === last.seq &&
    row.lastHash === last.hash &&
    row.minTime === summary.minTime &&
    row.maxTime === summary.maxTime &&
    row.keys === summary.keys;
  return { events, problem: matches ? null : { seq: row.firstSeq, reason: `the summary of ${range} does not match them: it was altered` } };
}

/** A stored line back into its event: `[seq, …EVENT_FIELDS, hash]`. */
function recordOf(line: string): AuditRecord {
  const values = JSON.parse(line) as unknown[];
  if (!Array.isArray(values) || values.length !== EVENT_FIELDS.length + 2) throw new Error("not an audit event line");
  const record: Record<string, unknown> = { seq: values[0] };
  EVENT_FIELDS.forEach((field, i) => (record[field] = values[i + 1]));
  record.hash = values.at(-1);
  return record as unknown as AuditRecord;
}
