/** coffer users list | create | disable | enable (administrators) */
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
  disable NAME            stop the user's tokens and sessions at once
  enable NAME             let a disabled user log in again

Run 'coffer users <command> --help' for details and examples.`;

export async function run(argv: string[]): Promise<void> {
  await dispatch("users", argv, HELP, { list: listUsers, create, disable: (rest) => setDisabled(rest, true), enable: (rest) => setDisabled(rest, false) }, { ls: "list" });
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
