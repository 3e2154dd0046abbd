/** coffer groups list | create | rm | add | remove (workspace admins) */
import { dispatch, parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { list, printJson, printTable } from "../output.ts";

interface Group {
  id: string;
  name: string;
  builtin: boolean;
  members: string[];
}

const HELP = `Usage: coffer groups <command> [options]   (workspace admins change groups)

Commands:
  list                     the workspace's groups and their members
  create NAME              a new group
  rm NAME                  remove a group and its grants
  add GROUP MEMBER…        add user:NAME or sa:NAME to a group
  remove GROUP MEMBER…     take them out again

The built-in group 'everyone' holds every member of the workspace.

Example:
  coffer groups create devs && coffer groups add devs user:alice user:bob`;

export async function run(argv: string[]): Promise<void> {
  await dispatch("groups", argv, HELP, { list: listGroups, create, rm, add: (rest) => members(rest, true), remove: (rest) => members(rest, false) }, { ls: "list", delete: "rm" });
}

async function listGroups(argv: string[]): Promise<void> {
  const parsed = parse("groups list", argv, { json: { type: "boolean" } }, HELP);
  if (!parsed) return;
  positionals("groups list", parsed.positionals, []);
  const { coffer } = connect();
  const { groups } = await coffer.call<{ groups: Group[] }>("listGroups", {});
  if (parsed.values.json) return printJson(groups);
  printTable(["NAME", "MEMBERS", "ID"], groups.map((g) => [g.name, g.builtin ? "(every member)" : list(g.members), g.id]), "(no groups)");
}

async function create(argv: string[]): Promise<void> {
  const parsed = parse("groups create", argv, {}, HELP);
  if (!parsed) return;
  const [name] = positionals("groups create", parsed.positionals, ["NAME"]);
  const { coffer, workspace } = connect();
  const group = await coffer.call<Group>("createGroup", {}, { body: { name } });
  process.stderr.write(`Created group '${group.name}' in workspace '${workspace}'.\n`);
}

async function rm(argv: string[]): Promise<void> {
  const parsed = parse("groups rm", argv, {}, HELP);
  if (!parsed) return;
  const [name] = positionals("groups rm", parsed.positionals, ["NAME"]);
  const { coffer } = connect();
  await coffer.call("deleteGroup", { group: name! });
  process.stderr.write(`Removed group '${name}' and its grants.\n`);
}

async function members(argv: string[], add: boolean): Promise<void> {
  const command = add ? "groups add" : "groups remove";
  const parsed = parse(command, argv, {}, HELP);
  if (!parsed) return;
  const [group, ...subjects] = parsed.positionals;
  if (group === undefined || subjects.length === 0) throw usage(command, "give a GROUP and at least one user:NAME or sa:NAME");
  for (const subject of subjects) if (!/^(user|sa):.+$/.test(subject)) throw usage(command, `a member is user:NAME or sa:NAME (got '${subject}')`);
  const { coffer } = connect();
  for (const member of subjects) {
    await coffer.call(add ? "addGroupMember" : "removeGroupMember", { group, member });
    process.stderr.write(add ? `Added ${member} to '${group}'.\n` : `Removed ${member} from '${group}'.\n`);
  }
}
