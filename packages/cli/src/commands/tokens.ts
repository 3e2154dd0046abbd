/** coffer tokens create | list | revoke */
import type { TokenInfo } from "@coffer/sdk";
import { dispatch, parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { list, printJson, printTable, when } from "../output.ts";

const HELP = `Usage: coffer tokens <command> [options]

Commands:
  create    make an API token (shown once), optionally limited in scope and lifetime
  list      your live tokens (metadata only)
  revoke ID revoke a token and every token minted from it

Run 'coffer tokens <command> --help' for details and examples.`;

export async function run(argv: string[]): Promise<void> {
  await dispatch("tokens", argv, HELP, { create, list: listTokens, revoke }, { ls: "list", rm: "revoke" });
}

const CREATE_HELP = `Usage: coffer tokens create [--name NAME] [--secrets PATTERN…] [--access LEVEL] [--ttl DURATION]
                            [--workspace WS] [--cidr RANGE…] [--label KEY=VALUE…] [--relay-cap N]
                            [--child] [--json]

Creates a token for you and prints it once on stdout (details go to stderr),
so T="$(coffer tokens create …)" captures just the token. Store it now: it is
never shown again.

Options:
  --name NAME          a name to recognise it by in 'coffer tokens list'
  --secrets PATTERN    only secrets whose names match (* and ? wildcards); repeatable
  --access LEVEL       the highest level: see, use, read, write or manage
  --ttl DURATION       lifetime: 3600 (seconds), 30m, 12h or 7d
  --workspace WS       only this workspace
  --cidr RANGE         only from these source addresses (10.0.0.0/8); repeatable
  --label KEY=VALUE    who the token acts for, recorded with each relayed call:
                       agent=NAME, session=ID; repeatable (a child inherits them)
  --relay-cap N        at most N relayed calls per secret per hour ('coffer relay');
                       a child's cap cannot exceed its parent's
  --child              a child of the current token: never wider, never longer-lived
                       (default 1 hour), revoked with it; one per agent run
  --json               {token, info} as JSON

Examples:
  coffer tokens create --name ci --secrets 'OPENAI_*' --access read --ttl 30d
  coffer tokens create --child --access use --label agent=support-bot --label session=run-42 --relay-cap 100`;

async function create(argv: string[]): Promise<void> {
  const parsed = parse(
    "tokens create",
    argv,
    {
      name: { type: "string" },
      secrets: { type: "string", multiple: true },
      access: { type: "string" },
      ttl: { type: "string" },
      workspace: { type: "string" },
      cidr: { type: "string", multiple: true },
      label: { type: "string", multiple: true },
      "relay-cap": { type: "string" },
      child: { type: "boolean" },
      json: { type: "boolean" },
    },
    CREATE_HELP,
  );
  if (!parsed) return;
  positionals("tokens create", parsed.positionals, []);
  const { values } = parsed;
  const body = {
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.secrets?.length ? { secrets: values.secrets } : {}),
    ...(values.access !== undefined ? { access: values.access } : {}),
    ...(values.ttl !== undefined ? { ttl: parseTtl(values.ttl) } : {}),
    ...(values.workspace !== undefined ? { workspace: values.workspace } : {}),
    ...(values.cidr?.length ? { cidrs: values.cidr } : {}),
    ...(values.label?.length ? { labels: labelsOf(values.label) } : {}),
    ...(values["relay-cap"] !== undefined ? { relayUsesPerHour: relayCapOf(values["relay-cap"]) } : {}),
  };
  const { coffer } = connect();
  const minted = await coffer.call<{ token: string; info: TokenInfo }>(values.child ? "createChildToken" : "createToken", {}, { body });
  if (values.json) return printJson(minted);
  process.stdout.write(minted.token + "\n");
  const info = minted.info;
  process.stderr.write(
    `Created ${info.kind} token ${info.id}${info.name ? ` '${info.name}'` : ""}: access ${info.access}` +
      `${info.secrets ? ` on ${info.secrets.join(", ")}` : ""}${info.workspaceId ? ` in ${info.workspaceId}` : ""}` +
      `, expires ${info.expiresAt ? when(info.expiresAt) + " UTC" : "never"}. It is shown once: store it now.\n`,
  );
}

function labelsOf(pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 1) throw usage("tokens create", `--label takes KEY=VALUE such as agent=support-bot (got '${pair}')`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

function relayCapOf(text: string): number {
  const cap = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(cap) || cap < 1) throw usage("tokens create", `--relay-cap takes a whole number of calls per hour such as 100 (got '${text}')`);
  return cap;
}

/** 3600, 3600s, 30m, 12h, 7d → seconds; `command` and `flag` name what was wrong in the message. */
export function parseTtl(text: string, command = "tokens create", flag = "--ttl"): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? "s") as "s" | "m" | "h" | "d"] : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1) throw usage(command, `${flag} takes seconds or a duration such as 30m, 12h, 7d (got '${text}')`);
  return seconds;
}

const LIST_HELP = `Usage: coffer tokens list [--json]

Your live tokens: id, name, kind (session, api, child), access, scope,
expiry, relay cap and labels. Never the tokens themselves.

Example:
  coffer tokens list`;

async function listTokens(argv: string[]): Promise<void> {
  const parsed = parse("tokens list", argv, { json: { type: "boolean" } }, LIST_HELP);
  if (!parsed) return;
  positionals("tokens list", parsed.positionals, []);
  const { coffer } = connect();
  const { tokens } = await coffer.call<{ tokens: TokenInfo[] }>("listTokens", {});
  if (parsed.values.json) return printJson(tokens);
  printTable(
    ["ID", "NAME", "KIND", "ACCESS", "WORKSPACE", "SECRETS", "EXPIRES", "RELAY CAP", "LABELS"],
    tokens.map((t) => [
      t.id,
      t.name || "-",
      t.kind,
      t.access,
      t.workspaceId ?? "any",
      list(t.secrets, "any"),
      t.expiresAt ? when(t.expiresAt) : "never",
      t.relayUsesPerHour ? `${t.relayUsesPerHour}/h` : "-",
      Object.entries(t.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",") || "-",
    ]),
    "(no tokens)",
  );
}

const REVOKE_HELP = `Usage: coffer tokens revoke ID

Revokes a token ('coffer tokens list' shows the ids) and every token minted
from it.

Example:
  coffer tokens revoke tok_01HX…`;

async function revoke(argv: string[]): Promise<void> {
  const parsed = parse("tokens revoke", argv, {}, REVOKE_HELP);
  if (!parsed) return;
  const [id] = positionals("tokens revoke", parsed.positionals, ["ID"]);
  const { coffer } = connect();
  await coffer.call("revokeToken", { id: id! });
  process.stderr.write(`Revoked token ${id} and every token minted from it.\n`);
}
