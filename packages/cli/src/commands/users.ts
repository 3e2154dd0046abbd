/** coffer users list | create | passwd | disable | enable (administrators) */
import { dispatch, parse, positionals } from "../args.ts";
import { connect } from "../client.ts";
import { printJson, printTable, when } from "../output.ts";
import { askNewPassword } from "../prompt.ts";

interface User {
  id: string;
  username: string;
  admin: boolean;
  disabled: boolean;
  hasPassword: boolean;
  createdAt: string;
}

const HELP = `Usage: coffer users <command> [options]   (administrators)

Commands:
  list                    every user
  create NAME [--admin]   a new user; prompts for the password (hidden)
  passwd NAME             set a user's password (hidden prompt); e.g. 'admin', to log in
  disable NAME            stop the user's tokens and sessions at once
  enable NAME             let a disabled user log in again

Run 'coffer users <command> --help' for details and examples.`;

export async function run(argv: string[]): Promise<void> {
  await dispatch("users", argv, HELP, { list: listUsers, create, passwd, disable: (rest) => setDisabled(rest, true), enable: (rest) => setDisabled(rest, false) }, { ls: "list" });
}

const LIST_HELP = `Usage: coffer users list [--json]

Example:
  coffer users list --json`;

async function listUsers(argv: string[]): Promise<void> {
  const parsed = parse("users list", argv, { json: { type: "boolean" } }, LIST_HELP);
  if (!parsed) return;
  positionals("users list", parsed.positionals, []);
  const { coffer } = connect();
  const { users } = await coffer.call<{ users: User[] }>("listUsers", {});
  if (parsed.values.json) return printJson(users);
  printTable(
    ["USERNAME", "ADMIN", "STATUS", "CREATED", "ID"],
    users.map((u) => [u.username, u.admin ? "yes" : "no", u.disabled ? "disabled" : u.hasPassword ? "active" : "no password", when(u.createdAt), u.id]),
  );
}

const CREATE_HELP = `Usage: coffer users create NAME [--admin]

Creates a user. The password is typed at a hidden prompt, twice (when stdin
is not a terminal, one line of it). --admin makes an instance administrator.
Add the user to a workspace with 'coffer members set NAME member'.

Example:
  coffer users create alice`;

async function create(argv: string[]): Promise<void> {
  const parsed = parse("users create", argv, { admin: { type: "boolean" } }, CREATE_HELP);
  if (!parsed) return;
  const [username] = positionals("users create", parsed.positionals, ["NAME"]);
  const { coffer } = connect();
  const password = await askNewPassword(`Password for ${username}: `);
  const user = await coffer.call<User>("createUser", {}, { body: { username, password, ...(parsed.values.admin ? { admin: true } : {}) } });
  process.stderr.write(`Created ${user.admin ? "administrator" : "user"} '${user.username}' (${user.id}).\n`);
}

const PASSWD_HELP = `Usage: coffer users passwd NAME

Sets a user's password, typed at a hidden prompt twice (when stdin is not a
terminal, one line of it). The bootstrap administrator 'admin' has none until
it is set this way, with the bootstrap token in COFFER_TOKEN:

Example:
  COFFER_TOKEN=cft_… coffer users passwd admin && coffer login --username admin`;

async function passwd(argv: string[]): Promise<void> {
  const parsed = parse("users passwd", argv, {}, PASSWD_HELP);
  if (!parsed) return;
  const [username] = positionals("users passwd", parsed.positionals, ["NAME"]);
  const { coffer } = connect();
  const password = await askNewPassword(`New password for ${username}: `);
  const user = await coffer.call<User>("updateUser", { user: username! }, { body: { password } });
  process.stderr.write(`Set the password of '${user.username}'.\n`);
}

const DISABLE_HELP = `Usage: coffer users disable NAME | coffer users enable NAME

Disabling stops the user's tokens and sessions on the next request, on every
server node; enabling lets the user log in again.

Example:
  coffer users disable bob`;

async function setDisabled(argv: string[], disabled: boolean): Promise<void> {
  const command = disabled ? "users disable" : "users enable";
  const parsed = parse(command, argv, {}, DISABLE_HELP);
  if (!parsed) return;
  const [username] = positionals(command, parsed.positionals, ["NAME"]);
  const { coffer } = connect();
  const user = await coffer.call<User>("updateUser", { user: username! }, { body: { disabled } });
  process.stderr.write(`${disabled ? "Disabled" : "Enabled"} user '${user.username}'.\n`);
}
