/** coffer audit list | tail | export | verify */
import { createWriteStream } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { dispatch, parse, positionals, usage } from "../args.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { connect } from "../client.ts";
import { printJson, printTable } from "../output.ts";
import type { AuditEventJson as AuditEvent } from "@coffer/protocol";
import type { Coffer } from "@coffer/sdk";

const HELP = `Usage: coffer audit <command> [options]

Commands:
  list      recent events, newest first, filtered
  tail      the latest events, then new ones as they happen (Ctrl-C stops)
  export    every matching event as JSON lines, oldest first, to a file or stdout
  verify    check the log's hash chain: finds an edited, removed or reordered event

Instance administrators read the whole log; workspace owners and admins read
their workspace's events with --workspace. Events never hold a value or a token.

Run 'coffer audit <command> --help' for details and examples.`;

export async function run(argv: string[]): Promise<void> {
  await dispatch("audit", argv, HELP, { list: listEvents, tail, export: exportEvents, verify }, { ls: "list" });
}

const FILTERS = {
  workspace: { type: "string" },
  since: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  actor: { type: "string" },
  secret: { type: "string" },
  action: { type: "string" },
  outcome: { type: "string" },
} as const;

const FILTER_HELP = `Filters:
  --workspace WS     only this workspace's events (what workspace admins must give)
  --since DURATION   events of the last 30m, 12h, 7d…
  --from TIME        events at or after an ISO time (2026-11-23T10:00:00Z)
  --to TIME          events before an ISO time
  --actor WHO        a user or service account (name or id)
  --secret NAME      a secret (name or id)
  --action ACTION    secret.read, or a prefix such as 'secret.*'
  --outcome OUTCOME  ok, denied, not_found or error`;

type FilterValues = { [K in keyof typeof FILTERS]?: string };

function queryOf(command: string, values: FilterValues): Record<string, string | undefined> {
  const { since, ...rest } = values;
  if (since !== undefined && rest.from !== undefined) throw usage(command, "give --since or --from, not both");
  return { ...rest, ...(since !== undefined && { from: new Date(Date.now() - durationMs(command, since)).toISOString() }) };
}

function durationMs(command: string, text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (!match) throw usage(command, `--since takes a duration such as 30m, 12h or 7d (got '${text}')`);
  return Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"];
}

function page(coffer: Coffer, query: Record<string, string | number | undefined>) {
  return coffer.call<{ events: AuditEvent[]; next?: number }>("listAudit", {}, { query });
}

const rowOf = (e: AuditEvent) => [
  e.time.replace("T", " ").slice(0, 19),
  e.outcome === "ok" ? "ok" : `${e.outcome} ${e.status}`,
  e.actor.name ?? e.actor.kind,
  e.action,
  [e.secretName ?? e.secretId, e.subject].filter(Boolean).join(" ") || "-",
  e.ip,
];
const HEADERS = ["TIME (UTC)", "OUTCOME", "ACTOR", "ACTION", "TARGET", "FROM"];

const LIST_HELP = `Usage: coffer audit list [filters] [--limit N] [--json]

${FILTER_HELP}
  --limit N          at most N events (default 50, at most 1000)
  --json             the events as JSON

Examples:
  coffer audit list --since 1h --outcome denied
  coffer audit list --workspace payments --secret stripe/live --action 'secret.*'`;

async function listEvents(argv: string[]): Promise<void> {
  const parsed = parse("audit list", argv, { ...FILTERS, limit: { type: "string" }, json: { type: "boolean" } }, LIST_HELP);
  if (!parsed) return;
  positionals("audit list", parsed.positionals, []);
  const { limit, json, ...filters } = parsed.values;
  if (limit !== undefined && !/^\d{1,4}$/.test(limit)) throw usage("audit list", `--limit takes a number from 1 to 1000 (got '${limit}')`);
  const { coffer } = connect();
  const { events } = await page(coffer, { ...queryOf("audit list", filters), limit: limit ?? "50" });
  if (json) return printJson(events);
  printTable(HEADERS, events.map(rowOf), "(no events match)");
}

const TAIL_HELP = `Usage: coffer audit tail [filters] [--lines N] [--json]

Prints the last N events (default 10), then each new one as it is recorded,
until Ctrl-C. --json prints one JSON object per line.

${FILTER_HELP}

Example:
  coffer audit tail --outcome denied`;

async function tail(argv: string[]): Promise<void> {
  const parsed = parse("audit tail", argv, { ...FILTERS, lines: { type: "string" }, json: { type: "boolean" } }, TAIL_HELP);
  if (!parsed) return;
  positionals("audit tail", parsed.positionals, []);
  const { lines, json, ...filters } = parsed.values;
  if (lines !== undefined && !/^\d{1,4}$/.test(lines)) throw usage("audit tail", `--lines takes a number (got '${lines}')`);
  const { coffer } = connect();
  const query = queryOf("audit tail", filters);
  const print = (events: AuditEvent[]) => {
    for (const event of events) {
      process.stdout.write(json ? JSON.stringify(event) + "\n" : rowOf(event).join("  ") + "\n");
    }
  };
  const latest = (await page(coffer, { ...query, limit: lines ?? "10" })).events.reverse();
  print(latest);
  let after = latest.at(-1)?.seq ?? (await page(coffer, { limit: 1 })).events[0]?.seq ?? 0;
  for (;;) {
    await sleep(1_000);
    const { events } = await page(coffer, { ...query, after, limit: 1000 });
    print(events);
    after = events.at(-1)?.seq ?? after;
  }
}

const EXPORT_HELP = `Usage: coffer audit export [filters] [FILE]

Writes every matching event, oldest first, one JSON object per line, to FILE
(created 0600; refuses to overwrite one) or to stdout. Progress goes to stderr.

${FILTER_HELP}

Example:
  coffer audit export --since 30d audit-november.jsonl`;

async function exportEvents(argv: string[]): Promise<void> {
  const parsed = parse("audit export", argv, FILTERS, EXPORT_HELP);
  if (!parsed) return;
  const [file] = positionals("audit export", parsed.positionals, [], ["FILE"]);
  const { coffer } = connect();
  const query = queryOf("audit export", parsed.values);
  const out = file === undefined ? process.stdout : createWriteStream(file, { flags: "wx", mode: 0o600 });
  if (file !== undefined) {
    await new Promise<void>((resolve, reject) => {
      out.once("error", (error: NodeJS.ErrnoException) =>
        reject(error.code === "EEXIST" ? new CliError(`${file} exists; choose another name`, EXIT.usage) : error),
      );
      (out as ReturnType<typeof createWriteStream>).once("open", () => resolve());
    });
  }
  let after = 0;
  let written = 0;
  for (;;) {
    const { events } = await page(coffer, { ...query, after, limit: 1000 });
    for (const event of events) out.write(JSON.stringify(event) + "\n");
    written += events.length;
    if (file !== undefined) process.stderr.write(`\r${written} events exported`);
    const last = events.at(-1);
    if (events.length < 1000 || !last) break;
    after = last.seq;
  }
  if (file !== undefined) {
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    process.stderr.write(`\r${written} events exported to ${file}\n`);
  }
}

const VERIFY_HELP = `Usage: coffer audit verify [--json]

Walks the whole audit log and checks its hash chain. Exits 0 when intact;
otherwise names the first event that was edited, removed or reordered and
exits 1. Needs an instance administrator's token.`;

async function verify(argv: string[]): Promise<void> {
  const parsed = parse("audit verify", argv, { json: { type: "boolean" } }, VERIFY_HELP);
  if (!parsed) return;
  positionals("audit verify", parsed.positionals, []);
  const { coffer } = connect();
  const result = await coffer.call<{ ok: boolean; checked: number; problem?: { seq: number; reason: string } }>("verifyAudit", {});
  if (parsed.values.json) printJson(result);
  else if (result.ok) process.stdout.write(`The audit log is intact: ${result.checked} events checked.\n`);
  if (!result.ok) {
    if (!parsed.values.json) process.stdout.write(`The audit log was TAMPERED WITH at event ${result.problem!.seq}: ${result.problem!.reason}\n`);
    process.exitCode = EXIT.failure;
  }
}
