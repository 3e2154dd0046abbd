/** coffer members list | set | remove (workspace admins) */
import { WORKSPACE_ROLES } from "@coffer/protocol";
import { dispatch, parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { printJson, printTable, when } from "../output.ts";

interface Member {
  userId: string;
  username: string;
  role: string;
  disabled: boolean;
  personalSecrets: number;
  createdAt: string;
}


const HELP = `Usage: coffer members <command> [options]   (workspace admins)

Commands:
  list              the workspace's members, roles and personal secret counts
  set USER ROLE     add USER to the workspace, or change its role:
                    owner, admin, member or viewer (owners only make owners)
  remove USER       take USER out of the workspace, with its group memberships
                    and grants (its personal secrets stay until deleted)

Example:
  coffer members set alice member`;

export async function run(argv: string[]): Promise<void> {
  await dispatch("members", argv, HELP, { list: listMembers, set, remove }, { ls: "list", add: "set", rm: "remove" });
}

async function listMembers(argv: string[]): Promise<void> {
  const parsed = parse("members list", argv, { json: { type: "boolean" } }, HELP);
  if (!parsed) return;
  positionals("members list", parsed.positionals, []);
  const { coffer } = connect();
  const { members } = await coffer.call<{ members: Member[] }>("listMembers", {});
  if (parsed.values.json) return printJson(members);
  printTable(
    ["USERNAME", "ROLE", "STATUS", "PERSONAL SECRETS", "SINCE"],
    members.map((m) => [m.username, m.role, m.disabled ? "disabled" : "active", String(m.personalSecrets), when(m.createdAt)]),
    "(no members)",
  );
}

async function set(argv: string[]): Promise<void> {
  const parsed = parse("members set", argv, {}, HELP);
  if (!parsed) return;
  const [user, role] = positionals("members set", parsed.positionals, ["USER", "ROLE"]);
  if (!(WORKSPACE_ROLES as readonly string[]).includes(role!)) throw usage("members set", `ROLE is one of ${WORKSPACE_ROLES.join(", ")} (got '${role}')`);
  const { coffer, workspace } = connect();
  const member = await coffer.call<Member>("setMember", { user: user! }, { body: { role } });
  process.stderr.write(`${member.username} is ${member.role === "owner" || member.role === "admin" ? "an" : "a"} ${member.role} of workspace '${workspace}'.\n`);
}

async function remove(argv: string[]): Promise<void> {
  const parsed = parse("members remove", argv, {}, HELP);
  if (!parsed) return;
  const [user] = positionals("members remove", parsed.positionals, ["USER"]);
  const { coffer, workspace } = connect();
  await coffer.call("removeMember", { user: user! });
  process.stderr.write(`Removed ${user} from workspace '${workspace}'.\n`);
}
