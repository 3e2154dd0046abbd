/** coffer approvals list | approve | deny | require: a person in the loop for a secret's uses (docs/agents.md). */
import { APPROVAL_SETTINGS, type Approval, type ApprovalSetting } from "@coffer/protocol";
import { dispatch, parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { printJson, printTable, when } from "../output.ts";
import { parseTtl } from "./tokens.ts";

const HELP = `Usage: coffer approvals <command> [options]

A secret can require a person's approval for each use by agents (tokens with
an 'agent' label) or by every caller at 'use'. A relayed call or signature on
it then waits (60 s by default, the server's --approval-timeout) until someone
who manages the secret approves or denies it here, in the web UI
(Approvals) or through the API; no answer in time denies it.

Commands:
  list [--all] [--json]          requests on the secrets you manage (pending ones; --all: every state)
  approve ID [--for DURATION]    let the waiting use go ahead; --for 1h: every use of that secret by
                                 the same token for that long (at most 1d). A grant request gets its grant.
  deny ID                        the waiting use fails with APPROVAL_DENIED
  require SECRET none|agents|all who must be approved for each use (needs manage)

Examples:
  coffer approvals require openai/api-key agents
  coffer approvals list
  coffer approvals approve apr_… --for 1h`;

export async function run(argv: string[]): Promise<void> {
  await dispatch("approvals", argv, HELP, { list: listApprovals, approve, deny, require });
}

async function listApprovals(argv: string[]): Promise<void> {
  const parsed = parse("approvals list", argv, { all: { type: "boolean" }, json: { type: "boolean" }, workspace: { type: "string" } }, HELP);
  if (!parsed) return;
  positionals("approvals list", parsed.positionals, []);
  const { coffer } = connect({ workspace: parsed.values.workspace });
  const approvals = await coffer.approvals.list({ status: parsed.values.all ? "all" : "pending" });
  if (parsed.values.json) return printJson(approvals);
  printTable(
    ["ID", "SECRET", "ASKS", "WHO", "STATUS", "ASKED", "UNTIL"],
    approvals.map((approval) => [approval.id, approval.secretName, asks(approval), who(approval), approval.status, when(approval.createdAt), when(approval.status === "pending" ? approval.expiresAt : approval.validUntil)]),
    parsed.values.all ? "(no approval requests)" : "(nothing waits for approval)",
  );
}

async function approve(argv: string[]): Promise<void> {
  const parsed = parse("approvals approve", argv, { for: { type: "string" }, workspace: { type: "string" } }, HELP);
  if (!parsed) return;
  const [id] = positionals("approvals approve", parsed.positionals, ["ID"]);
  const forSeconds = parsed.values.for === undefined ? undefined : parseTtl(parsed.values.for, "approvals approve", "--for");
  const { coffer } = connect({ workspace: parsed.values.workspace });
  const approval = await coffer.approvals.approve(id!, forSeconds === undefined ? {} : { forSeconds });
  const until = approval.validUntil ? `; its uses by the same token pass until ${when(approval.validUntil)}` : "";
  process.stderr.write(`Approved ${approval.id}: ${who(approval)} ${asks(approval)} on '${approval.secretName}'${until}.\n`);
}

async function deny(argv: string[]): Promise<void> {
  const parsed = parse("approvals deny", argv, { workspace: { type: "string" } }, HELP);
  if (!parsed) return;
  const [id] = positionals("approvals deny", parsed.positionals, ["ID"]);
  const { coffer } = connect({ workspace: parsed.values.workspace });
  const approval = await coffer.approvals.deny(id!);
  process.stderr.write(`Denied ${approval.id}: ${who(approval)} ${asks(approval)} on '${approval.secretName}'.\n`);
}

async function require(argv: string[]): Promise<void> {
  const parsed = parse("approvals require", argv, { workspace: { type: "string" } }, HELP);
  if (!parsed) return;
  const [secret, setting] = positionals("approvals require", parsed.positionals, ["SECRET", "none|agents|all"]);
  if (!(APPROVAL_SETTINGS as readonly string[]).includes(setting!)) throw usage("approvals require", `the setting is none, agents or all (got '${setting}')`);
  const { coffer } = connect({ workspace: parsed.values.workspace });
  await coffer.secrets.updateMetadata(secret!, { approval: setting as ApprovalSetting });
  const meaning = { none: "no use needs approval", agents: "each use by an agent token needs a person's approval", all: "each use needs a person's approval" }[setting as "none"];
  process.stderr.write(`Secret '${secret}': ${meaning}.\n`);
}

function asks(approval: Approval): string {
  if (approval.kind === "grant") return `grant ${approval.action}`;
  return approval.action === "relay" ? "relay" : "sign";
}

function who(approval: Approval): string {
  const { name, agent, session } = approval.requester;
  return [name, agent ? `agent=${agent}` : "", session ? `session=${session}` : ""].filter(Boolean).join(" ");
}
