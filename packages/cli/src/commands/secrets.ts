/** coffer secrets list | get | set | rm | history | rollback | share | unshare | grants | due | unused */
import { CofferError, type CanaryFormat, type Coffer, type ListOptions, type Secret, type SecretScope, type SecretSummary, type SecretType, type SecretVersionInfo } from "@coffer/sdk";
import { CANARY_FORMATS } from "@coffer/protocol";
import { readFileSync } from "node:fs";
import { dispatch, parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { parsePairs } from "../formats.ts";
import { list, printJson, printTable, when } from "../output.ts";
import { askHidden, readAllStdin, stdinIsTty } from "../prompt.ts";
import { folder } from "../vault.ts";
import { policy } from "./relay-policy.ts";

const HELP = `Usage: coffer secrets <command> [options]

Commands:
  list                         names, keys, types and ages (never values)
  get NAME [KEY]               a secret's values; with KEY, just that raw value (for scripts)
  set NAME [KEY=-|KEY=VALUE…]  create or change a secret (values are prompted for, never taken from argv)
  rm NAME                      delete (restorable; --permanent destroys every version)
  history NAME                 versions: number, keys, time, author
  rollback NAME VERSION        write a new version equal to an old one
  share NAME --with SUBJECT    share with user:NAME, group:NAME or sa:NAME (--read, --write or --manage)
  unshare NAME --with SUBJECT  stop sharing
  grants NAME                  who a secret is shared with
  due                          secrets due or overdue for rotation
  unused [--days N]            shared secrets nobody read or used for N days
  policy NAME [--host H…]      show or set where the relay may send a secret ('coffer relay')

Every command takes --personal for your personal secrets (no one else reads them,
administrators included), and every read command --json.
Run 'coffer secrets <command> --help' for details and examples.`;

export async function run(argv: string[]): Promise<void> {
  await dispatch("secrets", argv, HELP, { list: listSecrets, get, set, rm, history, rollback, share, unshare, grants, due, unused, policy }, { ls: "list", delete: "rm", versions: "history" });
}

type UpdateOptions = NonNullable<Parameters<Coffer["secrets"]["update"]>[2]> & { type?: string };

const personal = { personal: { type: "boolean" } } as const;
const scopeOf = (values: { personal?: boolean }): SecretScope => (values.personal ? "personal" : "shared");

const LIST_HELP = `Usage: coffer secrets list [--prefix FOLDER] [--search TEXT] [--personal] [--json]

Lists the secrets you can see: names, keys, types, versions and when the
values last changed. Never values.

Options:
  --prefix FOLDER   only names under this folder (payments/ or payments)
  --search TEXT     only names containing TEXT (case-insensitive)
  --deleted         include soft-deleted secrets
  --personal        your personal secrets instead of the workspace's shared ones
  --json            the list as JSON

Example:
  coffer secrets list --prefix payments/`;

async function listSecrets(argv: string[]): Promise<void> {
  const parsed = parse("secrets list", argv, { ...personal, prefix: { type: "string" }, search: { type: "string" }, deleted: { type: "boolean" }, json: { type: "boolean" } }, LIST_HELP);
  if (!parsed) return;
  positionals("secrets list", parsed.positionals, []);
  const { values } = parsed;
  const { coffer, workspace } = connect({ personal: values.personal });
  const items: SecretSummary[] = await coffer.secrets.list({
    scope: scopeOf(values),
    ...(values.prefix ? { prefix: folder(values.prefix) } : {}),
    ...(values.search ? { search: values.search } : {}),
    // Not among the SDK's ListOptions, which it sends as query parameters all the same.
    ...(values.deleted ? ({ deleted: "include" } as ListOptions) : {}),
  });
  if (values.json) return printJson(items);
  printTable(
    ["NAME", "KEYS", "TYPE", "VERSION", "UPDATED", "LABEL"],
    items.map((s) => [s.deletedAt ? `${s.name} (deleted)` : s.name, list(s.keys), s.type, String(s.version), when(s.updatedAt), s.label === s.name ? "" : s.label]),
    `(no ${values.personal ? "personal" : "shared"} secrets in workspace '${workspace}'${values.prefix ? ` under ${folder(values.prefix)}` : ""})`,
  );
}

const GET_HELP = `Usage: coffer secrets get NAME [KEY] [--version N] [--personal] [--json]

Shows a secret's key/value pairs. With KEY, prints only that raw value, for
scripts (followed by a newline only when stdout is a terminal).

Options:
  --version N   an earlier version
  --personal    your personal secret NAME
  --json        the whole secret as JSON: id, name, keys, data, version, dates

Examples:
  coffer secrets get database-config
  PGPASSWORD="$(coffer secrets get database-config password)" psql …`;

async function get(argv: string[]): Promise<void> {
  const parsed = parse("secrets get", argv, { ...personal, version: { type: "string" }, json: { type: "boolean" } }, GET_HELP);
  if (!parsed) return;
  const [name, key] = positionals("secrets get", parsed.positionals, ["NAME"], ["KEY"]);
  const { values } = parsed;
  const version = values.version === undefined ? undefined : wholeNumber("secrets get", "--version", values.version);
  const { coffer } = connect({ personal: values.personal });
  const secret = await coffer.secrets.get(name!, { scope: scopeOf(values), ...(version ? { version } : {}) });
  if (key !== undefined) {
    const value = secret.data[key];
    if (value === undefined || !Object.hasOwn(secret.data, key)) {
      throw new CliError(`secret '${secret.name}' has no key '${key}' (its keys: ${secret.keys.join(", ")})`, EXIT.notFound);
    }
    if (values.json) return printJson(value);
    process.stdout.write(process.stdout.isTTY ? value + "\n" : value);
    return;
  }
  if (values.json) return printJson(secret);
  process.stdout.write(`${secret.name}  version ${secret.version}  ${secret.type}  updated ${when(secret.updatedAt)} UTC\n`);
  printTable(["KEY", "VALUE"], Object.entries(secret.data).map(([k, v]) => [k, v]));
}

const SET_HELP = `Usage: coffer secrets set NAME [KEY=-…] [--from-file PATH] [options]

Creates the secret NAME or changes it (a new version). Values never come
from the command line, which other users see in 'ps' and your shell keeps in
its history. They come from:
  (nothing)          a hidden prompt for the value, stored under the key 'value';
                     or, when stdin is not a terminal, all of stdin (one trailing
                     newline dropped)
  KEY=-              a hidden prompt for KEY (when stdin is not a terminal: all of
                     stdin for one such key, one line each for several)
  --from-file PATH   the pairs of a dotenv file or a JSON object of strings
                     (PATH - reads stdin)
  KEY=VALUE          only with --insecure-value (throwaway values, tests)

Only the keys given change; the others stay (--replace makes the given pairs
the whole secret).

Options:
  --replace          replace every pair instead of merging
  --type TYPE        USER_DEFINED (default), HMAC or INTERNAL_API_KEY, for a new secret;
                     HMAC and INTERNAL_API_KEY with no value given get one generated by the server
  --label TEXT       a label shown in lists (workspace rotation defaults go by label)
  --rotate-every DAYS  rotate the value every DAYS days ('coffer secrets due' lists it when due)
  --auto-rotate      HMAC and INTERNAL_API_KEY: the server writes a new generated value when due
  --expires-at TIME  from TIME (ISO 8601, e.g. 2027-01-31T00:00:00Z) reads and uses answer
                     SECRET_EXPIRED; a warning alert goes out before; 'never' removes it
  --canary           create a canary: the server generates a decoy (no value is given) and
                     any read or use of it raises a canary.triggered alert (docs/agents.md)
  --canary-format F  the decoy: aws (default; an access key pair), openai (sk-…) or github (ghp_…)
  --insecure-value   accept KEY=VALUE (and a bare VALUE) from the command line
  --personal         your personal secret NAME
  --json             print the result (metadata, never values) as JSON

Examples:
  coffer secrets set OPENAI_KEY                       # prompts for the value
  coffer secrets set database-config host=- password=-
  coffer secrets set database-config --from-file db.env
  coffer secrets set aws/prod-root --canary --canary-format aws
  coffer secrets set OPENAI_KEY --expires-at 2027-01-31T00:00:00Z
  pbpaste | coffer secrets set OPENAI_KEY`;

async function set(argv: string[]): Promise<void> {
  const parsed = parse(
    "secrets set",
    argv,
    {
      ...personal,
      "from-file": { type: "string" },
      "insecure-value": { type: "boolean" },
      replace: { type: "boolean" },
      type: { type: "string" },
      label: { type: "string" },
      "rotate-every": { type: "string" },
      "auto-rotate": { type: "boolean" },
      "expires-at": { type: "string" },
      canary: { type: "boolean" },
      "canary-format": { type: "string" },
      json: { type: "boolean" },
    },
    SET_HELP,
  );
  if (!parsed) return;
  const [name, ...pairs] = parsed.positionals;
  if (name === undefined) throw usage("secrets set", "missing NAME");
  if (name.includes("=")) throw usage("secrets set", `'${name.slice(0, name.indexOf("="))}=…' is not a secret name: give the NAME first, then KEY=- pairs`);
  const { values } = parsed;
  const settings = {
    ...(values.label === undefined ? {} : { label: values.label }),
    ...(values["rotate-every"] === undefined ? {} : { rotationIntervalDays: wholeNumber("secrets set", "--rotate-every", values["rotate-every"]) }),
    ...(values["auto-rotate"] ? { autoRotate: true } : {}),
    ...(values["expires-at"] === undefined ? {} : { expiresAt: values["expires-at"] === "never" ? null : values["expires-at"] }),
  };
  if (values["canary-format"] !== undefined && !values.canary) throw usage("secrets set", "--canary-format goes with --canary");
  if (values.canary) {
    if (pairs.length > 0 || values["from-file"] !== undefined) throw usage("secrets set", "a canary's value is a decoy the server generates: give no value");
    const format = values["canary-format"];
    if (format !== undefined && !(CANARY_FORMATS as readonly string[]).includes(format)) throw usage("secrets set", `--canary-format is ${CANARY_FORMATS.join(", ")} (got '${format}')`);
    const { coffer } = connect({ personal: values.personal });
    const secret = await coffer.secrets.create(name, undefined, {
      ...(values.type ? { type: values.type as SecretType } : {}),
      scope: scopeOf(values),
      canary: true,
      ...(format ? { canaryFormat: format as CanaryFormat } : {}),
      ...settings,
    });
    if (values.json) return printJson({ id: secret.id, name: secret.name, scope: secret.scope, version: secret.version, keys: secret.keys });
    process.stderr.write(`Created canary '${secret.name}' (keys ${secret.keys.join(", ")}): any read or use of it raises a canary.triggered alert\n`);
    return;
  }
  if ((values.type === "HMAC" || values.type === "INTERNAL_API_KEY") && pairs.length === 0 && values["from-file"] === undefined) {
    // The server makes these values itself; nothing is typed, and nothing is shown.
    const { coffer } = connect({ personal: values.personal });
    const secret = await coffer.secrets.create(name, undefined, { type: values.type, scope: scopeOf(values), ...settings });
    if (values.json) return printJson({ id: secret.id, name: secret.name, scope: secret.scope, version: secret.version, keys: secret.keys });
    process.stderr.write(`Created ${values.type} secret '${secret.name}' with a generated value (key ${secret.keys.join(", ")}); read it with 'coffer secrets get ${secret.name} value'\n`);
    return;
  }
  const insecure = values["insecure-value"] === true;
  const data: Record<string, string> = {};
  const prompted: string[] = [];
  const fromFile = values["from-file"];
  if (fromFile !== undefined) Object.assign(data, parsePairs(fromFile, fromFile === "-" ? await readAllStdin() : readText(fromFile)));
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 0 || (eq === 0 && insecure)) {
      // A bare word is a value for the key 'value'.
      if (!insecure) throw refuseValue(name);
      data.value = pair;
      continue;
    }
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (!key) throw usage("secrets set", "a pair needs a key: KEY=-");
    if (value === "-") prompted.push(key);
    else if (!insecure) throw refuseValue(name, key);
    else data[key] = value;
  }
  if (pairs.length === 0 && fromFile === undefined) {
    if (stdinIsTty()) prompted.push("value");
    else data.value = await readAllStdin();
  }
  if (prompted.length && fromFile === "-") throw usage("secrets set", "stdin cannot give both --from-file - and KEY=- values");
  if (prompted.length === 1 && !stdinIsTty()) {
    data[prompted[0]!] = await readAllStdin();
  } else {
    for (const key of prompted) data[key] = await askHidden(key === "value" && pairs.length === 0 ? `Value for ${name}: ` : `Value for ${name} ${key}: `);
  }
  for (const [key, value] of Object.entries(data)) {
    if (value === "") throw new CliError(`the value of '${key}' is empty; nothing was changed`, EXIT.usage);
  }
  if (Object.keys(data).length === 0) throw new CliError(`${fromFile} has no pairs; nothing was changed`, EXIT.usage);

  const { coffer } = connect({ personal: values.personal });
  const scope = scopeOf(values);
  let secret: Secret | undefined;
  if (!values.replace) {
    try {
      secret = await coffer.secrets.update(name, data, { merge: true, scope, ...settings });
    } catch (error) {
      if (!(error instanceof CofferError && error.code === "SECRET_NOT_FOUND")) throw error;
    }
  }
  // A new name (or --replace): PUT creates or replaces. The SDK's options have no `type`, but
  // it sends every option besides merge and scope in the body, where PUT takes one.
  const put: UpdateOptions = { scope, ...settings, ...(values.type ? { type: values.type } : {}) };
  secret ??= await coffer.secrets.update(name, data, put);
  const summary = { id: secret.id, name: secret.name, scope: secret.scope, version: secret.version, keys: secret.keys };
  if (values.json) return printJson(summary);
  process.stderr.write(`Saved ${secret.scope === "personal" ? "personal " : ""}secret '${secret.name}': version ${secret.version}, keys ${secret.keys.join(", ")}\n`);
}

function refuseValue(name: string, key?: string): CliError {
  const shown = key === undefined ? "a value" : `'${key}=…'`;
  const prompt = key === undefined ? `'coffer secrets set ${name}' to be prompted` : `'${key}=-' to be prompted`;
  return new CliError(
    `refusing ${shown} on the command line: other users see argv in 'ps' and your shell keeps it in its history. ` +
      `Use ${prompt}, --from-file PATH, or pipe it on stdin; --insecure-value accepts it anyway. Nothing was changed`,
    EXIT.usage,
  );
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, EXIT.usage);
  }
}

function wholeNumber(command: string, what: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) throw usage(command, `${what} takes a whole number such as 3 (got '${text}')`);
  return value;
}

const RM_HELP = `Usage: coffer secrets rm NAME [--permanent] [--personal]

Deletes a secret. By default the delete is soft: an administrator can restore
it through the API, and the name stays taken. --permanent destroys the secret
and every version for good.

Example:
  coffer secrets rm old-api-key`;

async function rm(argv: string[]): Promise<void> {
  const parsed = parse("secrets rm", argv, { ...personal, permanent: { type: "boolean" } }, RM_HELP);
  if (!parsed) return;
  const [name] = positionals("secrets rm", parsed.positionals, ["NAME"]);
  const { values } = parsed;
  const { coffer } = connect({ personal: values.personal });
  await coffer.secrets.delete(name!, { scope: scopeOf(values), ...(values.permanent ? { permanent: true } : {}) });
  process.stderr.write(values.permanent ? `Destroyed secret '${name}' and every version.\n` : `Deleted secret '${name}' (restorable).\n`);
}

const HISTORY_HELP = `Usage: coffer secrets history NAME [--personal] [--json]

Lists a secret's kept versions, newest first: number, keys, when and by whom.
Never values ('coffer secrets get NAME --version N' reads one).

Example:
  coffer secrets history database-config`;

async function history(argv: string[]): Promise<void> {
  const parsed = parse("secrets history", argv, { ...personal, json: { type: "boolean" } }, HISTORY_HELP);
  if (!parsed) return;
  const [name] = positionals("secrets history", parsed.positionals, ["NAME"]);
  const { values } = parsed;
  const { coffer } = connect({ personal: values.personal });
  const versions: SecretVersionInfo[] = await coffer.secrets.versions(name!, { scope: scopeOf(values) });
  if (values.json) return printJson(versions);
  printTable(
    ["VERSION", "KEYS", "CREATED", "BY", ""],
    versions.map((v) => [String(v.version), list(v.keys), when(v.createdAt), v.createdBy, v.current ? "current" : ""]),
  );
}

const ROLLBACK_HELP = `Usage: coffer secrets rollback NAME VERSION [--personal] [--json]

Writes a new version of NAME equal to the old VERSION ('coffer secrets
history NAME' lists them).

Example:
  coffer secrets rollback database-config 3`;

async function rollback(argv: string[]): Promise<void> {
  const parsed = parse("secrets rollback", argv, { ...personal, json: { type: "boolean" } }, ROLLBACK_HELP);
  if (!parsed) return;
  const [name, versionText] = positionals("secrets rollback", parsed.positionals, ["NAME", "VERSION"]);
  const version = wholeNumber("secrets rollback", "VERSION", versionText!);
  const { values } = parsed;
  const { coffer } = connect({ personal: values.personal });
  const secret = await coffer.secrets.rollback(name!, version, { scope: scopeOf(values) });
  if (values.json) return printJson({ id: secret.id, name: secret.name, version: secret.version, keys: secret.keys, rolledBackTo: version });
  process.stderr.write(`Rolled back '${secret.name}' to version ${version}: it is now version ${secret.version}.\n`);
}

const LEVELS = ["see", "use", "read", "write", "manage"] as const;
type Level = (typeof LEVELS)[number];

const SHARE_HELP = `Usage: coffer secrets share NAME --with SUBJECT… [--read | --write | --manage | --level LEVEL]

Shares a workspace secret with a user, a group or a service account, at one
level (default read). Sharing again changes the level.

  SUBJECT   user:NAME, group:NAME (group:everyone is the whole workspace) or sa:NAME
  levels    see (metadata) < use < read (the value) < write < manage (share, destroy)

Example:
  coffer secrets share OPENAI_KEY --with group:devs --with sa:ci-bot --read`;

async function share(argv: string[]): Promise<void> {
  const parsed = parse(
    "secrets share",
    argv,
    { with: { type: "string", multiple: true }, read: { type: "boolean" }, write: { type: "boolean" }, manage: { type: "boolean" }, level: { type: "string" } },
    SHARE_HELP,
  );
  if (!parsed) return;
  const [name] = positionals("secrets share", parsed.positionals, ["NAME"]);
  const { values } = parsed;
  const chosen = [values.read && "read", values.write && "write", values.manage && "manage", values.level].filter((l): l is string => typeof l === "string" && l !== "");
  if (chosen.length > 1) throw usage("secrets share", "give one level");
  const level = (chosen[0] ?? "read") as Level;
  if (!LEVELS.includes(level)) throw usage("secrets share", `the level is one of ${LEVELS.join(", ")} (got '${level}')`);
  const subjects = subjectsOf("secrets share", values.with);
  const { coffer } = connect();
  for (const subject of subjects) {
    await coffer.secrets.share(name!, subject, level);
    process.stderr.write(`Shared '${name}' with ${subject} (${level}).\n`);
  }
}

const UNSHARE_HELP = `Usage: coffer secrets unshare NAME --with SUBJECT…

Stops sharing a secret with user:NAME, group:NAME or sa:NAME.

Example:
  coffer secrets unshare OPENAI_KEY --with user:bob`;

async function unshare(argv: string[]): Promise<void> {
  const parsed = parse("secrets unshare", argv, { with: { type: "string", multiple: true } }, UNSHARE_HELP);
  if (!parsed) return;
  const [name] = positionals("secrets unshare", parsed.positionals, ["NAME"]);
  const subjects = subjectsOf("secrets unshare", parsed.values.with);
  const { coffer } = connect();
  for (const subject of subjects) {
    await coffer.secrets.unshare(name!, subject);
    process.stderr.write(`Stopped sharing '${name}' with ${subject}.\n`);
  }
}

function subjectsOf(command: string, given: string[] | undefined): string[] {
  if (!given?.length) throw usage(command, "missing --with SUBJECT (user:NAME, group:NAME or sa:NAME)");
  for (const subject of given) {
    if (!/^(user|group|sa):.+$/.test(subject)) throw usage(command, `a subject is user:NAME, group:NAME or sa:NAME (got '${subject}')`);
  }
  return given;
}

const GRANTS_HELP = `Usage: coffer secrets grants NAME [--json]

Who a workspace secret is shared with, and at which level (needs manage).

Example:
  coffer secrets grants OPENAI_KEY`;

async function grants(argv: string[]): Promise<void> {
  const parsed = parse("secrets grants", argv, { json: { type: "boolean" } }, GRANTS_HELP);
  if (!parsed) return;
  const [name] = positionals("secrets grants", parsed.positionals, ["NAME"]);
  const { coffer } = connect();
  const { grants: rows } = await coffer.call<{ grants: { subject: string; level: string; createdAt: string }[] }>("listGrants", { secret: name! });
  if (parsed.values.json) return printJson(rows);
  printTable(["SUBJECT", "LEVEL", "SINCE"], rows.map((g) => [g.subject, g.level, when(g.createdAt)]), `('${name}' is not shared with anyone)`);
}

const DUE_HELP = `Usage: coffer secrets due [--workspace WS] [--personal] [--json]

Lists the secrets whose value is due for rotation: 'due' from 7 days before
the due date (half the interval when that is shorter), 'overdue' after it.
A secret's interval is its own (rotationIntervalDays) or the workspace default
for its label. Writing a new value (set, rollback) starts the interval again;
AUTO secrets (HMAC, INTERNAL_API_KEY) are rotated by the server when due.

Options:
  --workspace WS   this workspace instead of the current one
  --personal       your personal secrets instead of the workspace's shared ones
  --json           the secrets as JSON, with their rotation schedules

Example:
  coffer secrets due --workspace production`;

async function due(argv: string[]): Promise<void> {
  const parsed = parse("secrets due", argv, { ...personal, workspace: { type: "string" }, json: { type: "boolean" } }, DUE_HELP);
  if (!parsed) return;
  positionals("secrets due", parsed.positionals, []);
  const { values } = parsed;
  const { coffer, workspace } = connect({ personal: values.personal, workspace: values.workspace });
  const items = await coffer.secrets.due({ scope: scopeOf(values) });
  if (values.json) return printJson(items);
  printTable(
    ["NAME", "STATUS", "DUE", "INTERVAL", "ROTATED", "AUTO"],
    items.map((s) => [s.name, s.rotation?.status ?? "-", when(s.rotation?.dueAt), s.rotation ? `${s.rotation.intervalDays}d` : "-", when(s.rotation?.rotatedAt), s.autoRotate ? "auto" : ""]),
    `(nothing due for rotation in workspace '${workspace}')`,
  );
}

const UNUSED_HELP = `Usage: coffer secrets unused [--days N] [--workspace WS] [--json]

Lists the workspace's shared secrets that nobody has read or used (read,
batch read, run, inject, export, relayed, HMAC) for N days, by name:
candidates to retire. Never-used secrets count from their
creation; canaries are left out. Uses are recorded within seconds. For
workspace owners and admins.

Options:
  --days N         idle days (default: the workspace's unusedAlertDays, else 90)
  --workspace WS   this workspace instead of the current one
  --json           the secrets as JSON

Example:
  coffer secrets unused --days 30`;

async function unused(argv: string[]): Promise<void> {
  const parsed = parse("secrets unused", argv, { days: { type: "string" }, workspace: { type: "string" }, json: { type: "boolean" } }, UNUSED_HELP);
  if (!parsed) return;
  positionals("secrets unused", parsed.positionals, []);
  const { values } = parsed;
  const { coffer, workspace } = connect({ workspace: values.workspace });
  const items = await coffer.secrets.unused(values.days === undefined ? {} : { days: wholeNumber("secrets unused", "--days", values.days) });
  if (values.json) return printJson(items);
  printTable(
    ["NAME", "TYPE", "LAST USED", "CREATED"],
    items.map((s) => [s.name, s.type, s.lastUsedAt ? when(s.lastUsedAt) : "never", when(s.createdAt)]),
    `(no unused secrets in workspace '${workspace}')`,
  );
}
