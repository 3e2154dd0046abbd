/** coffer export and coffer import: many secrets to and from dotenv, JSON and YAML. */
import type { Secret } from "@coffer/sdk";
import { readFileSync } from "node:fs";
import { parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { dataOf, entryOf, formatDotenv, formatJson, formatYaml, parseDocument, type Document } from "../formats.ts";
import { printJson } from "../output.ts";
import { readAllStdin } from "../prompt.ts";
import { environmentOf, readAll, readSecrets } from "../vault.ts";

const EXPORT_HELP = `Usage: coffer export --format dotenv|json|yaml [--prefix FOLDER] [--personal]

Prints the values of every secret you can read (or those under FOLDER), for
a backup or another tool. It prints values: redirect it to a file, not to a
terminal (coffer warns when stdout is one), and keep the file private.

Formats:
  dotenv   the variables 'coffer run' would set (NAME, NAME_KEY), double-quoted
  json     {"NAME": "value", "NAME2": {"key": "value", …}}: one-value secrets as
           strings, key/value secrets as objects; 'coffer import' reads it back
  yaml     the same structure as YAML

Example:
  coffer export --format json --prefix payments/ > payments.json`;

export async function exportSecrets(argv: string[]): Promise<void> {
  const parsed = parse("export", argv, { format: { type: "string", short: "f" }, prefix: { type: "string" }, personal: { type: "boolean" } }, EXPORT_HELP);
  if (!parsed) return;
  positionals("export", parsed.positionals, []);
  const { values } = parsed;
  const format = values.format ?? "dotenv";
  if (format !== "dotenv" && format !== "json" && format !== "yaml") throw usage("export", `--format is dotenv, json or yaml (got '${format}')`);
  const { coffer } = connect({ personal: values.personal });
  const secrets = await readAll(coffer, values.personal ? "personal" : "shared", values.prefix);
  if (process.stdout.isTTY) process.stderr.write("warning: printing secret values to a terminal; redirect to a file instead (coffer export … > file)\n");
  if (format === "dotenv") {
    process.stdout.write(formatDotenv(environmentOf(secrets, new Map())));
    return;
  }
  const document: Document = new Map(secrets.map((secret) => [secret.name, entryOf(secret.data)]));
  process.stdout.write(format === "json" ? formatJson(document) : formatYaml(document));
}

const IMPORT_HELP = `Usage: coffer import FILE [--format dotenv|json] [--dry-run] [--personal] [--json]

Creates or updates one secret per top-level entry of FILE (- for stdin):
  dotenv   NAME=value                   → secret NAME with the key 'value'
  json     {"NAME": "value"}            → the same
           {"NAME": {"k": "v", …}}      → secret NAME with those key/value pairs
A secret whose pairs already equal the file's is left alone; one that
differs gets a new version with exactly the file's pairs. The whole file is
checked before anything is written. Prints a summary: created, updated,
unchanged.

Options:
  --format F   dotenv or json (default: by the extension, else by the content)
  --dry-run    show what would change, change nothing
  --json       the summary as JSON

Example:
  coffer import payments.json --dry-run`;

export async function importSecrets(argv: string[]): Promise<void> {
  const parsed = parse("import", argv, { format: { type: "string" }, "dry-run": { type: "boolean" }, personal: { type: "boolean" }, json: { type: "boolean" } }, IMPORT_HELP);
  if (!parsed) return;
  const [path] = positionals("import", parsed.positionals, ["FILE"]);
  const { values } = parsed;
  const text = path === "-" ? await readAllStdin() : readText(path!);
  const document = parseDocument(path!, text, values.format);
  for (const [name, entry] of document) {
    if (Object.values(dataOf(entry)).some((value) => value === "")) throw new CliError(`'${name}' has an empty value; nothing was imported`, EXIT.usage);
    if (Object.keys(dataOf(entry)).length === 0) throw new CliError(`'${name}' has no keys; nothing was imported`, EXIT.usage);
  }

  const { coffer } = connect({ personal: values.personal });
  const scope = values.personal ? "personal" : "shared";
  const existingNames = new Set((await coffer.secrets.list({ scope })).map((s) => s.name));
  const present = [...document.keys()].filter((name) => existingNames.has(name));
  const current = new Map((present.length ? await readSecrets(coffer, present, scope) : []).map((s): [string, Secret] => [s.name, s]));

  const plan = { created: [] as string[], updated: [] as string[], unchanged: [] as string[] };
  for (const [name, entry] of document) {
    const existing = current.get(name);
    if (!existing) plan.created.push(name);
    else if (sameData(existing.data, dataOf(entry))) plan.unchanged.push(name);
    else plan.updated.push(name);
  }
  const dryRun = values["dry-run"] === true;
  if (!dryRun) {
    for (const name of [...plan.created, ...plan.updated]) await coffer.secrets.update(name, dataOf(document.get(name)!), { scope });
  }
  const summary = { dryRun, created: plan.created.length, updated: plan.updated.length, unchanged: plan.unchanged.length, secrets: plan };
  if (values.json) return printJson(summary);
  const verb = dryRun ? { created: "would create", updated: "would update", unchanged: "unchanged" } : { created: "created", updated: "updated", unchanged: "unchanged" };
  for (const kind of ["created", "updated", "unchanged"] as const) for (const name of plan[kind]) process.stdout.write(`  ${verb[kind].padEnd(12)} ${name}\n`);
  process.stdout.write(
    `${dryRun ? "Dry run: " : ""}${verb.created} ${plan.created.length}, ${verb.updated} ${plan.updated.length}, unchanged ${plan.unchanged.length}${dryRun ? " (nothing was written)" : ""}\n`,
  );
}

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, EXIT.usage);
  }
}
