/** coffer login, logout, whoami, workspace. */
import { Coffer, CofferError } from "@coffer/sdk";
import { dispatch, parse, positionals } from "../args.ts";
import { connect } from "../client.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { httpFetch } from "../http.ts";
import { configPath, DEFAULT_ADDR, normalizeAddr, readConfig, writeConfig } from "../config.ts";
import { printJson, printTable, when } from "../output.ts";
import { ask, askHidden } from "../prompt.ts";

const LOGIN_HELP = `Usage: coffer login [--addr URL] [--username NAME]

Logs in with a username and password and keeps the session token (12 hours)
in ${"$"}XDG_CONFIG_HOME/coffer/config.json (default ~/.config/coffer/config.json;
COFFER_CONFIG_DIR moves it), a file only you can read (mode 0600). The
password is typed at a hidden prompt; when stdin is not a terminal, the
username and password are read from it, one line each. After too many
failed attempts the server refuses logins for a while (429): login then
fails at once and says how many seconds to wait, rather than waiting.

Options:
  --addr URL         the server (default: the saved one, COFFER_ADDR, or ${DEFAULT_ADDR})
  --username NAME    skip the username prompt

Example:
  coffer login --addr https://coffer.example.com --username alice`;

export async function login(argv: string[]): Promise<void> {
  const parsed = parse("login", argv, { addr: { type: "string" }, username: { type: "string", short: "u" } }, LOGIN_HELP);
  if (!parsed) return;
  positionals("login", parsed.positionals, []);
  const stored = readConfig();
  const addr = normalizeAddr(parsed.values.addr || process.env.COFFER_ADDR || stored.addr || DEFAULT_ADDR);
  // No token on a login request, not even a COFFER_TOKEN: a stale one must not spoil it. A 429 (too many
  // failed logins) is not waited out: a person is at the prompt, so fail at once and say when to try again.
  const { coffer } = connect({ addr, anonymous: true, maxRetries: 0 });
  const username = parsed.values.username ?? (await ask(`Username for ${addr}: `));
  if (!username) throw new CliError("the username is empty", EXIT.usage);
  const password = await askHidden("Password: ");
  if (!password) throw new CliError("the password is empty", EXIT.usage);
  const session = await coffer.call<{ token: string; expiresAt: string; user: { username: string } }>("login", {}, { body: { username, password } });
  // A new server forgets the old one's workspace choice.
  const workspace = stored.addr && normalizeAddr(stored.addr) === addr ? stored.workspace : undefined;
  writeConfig({ addr, token: session.token, workspace: workspace ?? "default", username: session.user.username, expiresAt: session.expiresAt });
  process.stderr.write(`Logged in to ${addr} as ${session.user.username} (session until ${when(session.expiresAt)} UTC); saved in ${configPath()}\n`);
  if (process.env.COFFER_TOKEN) process.stderr.write("Note: COFFER_TOKEN is set and takes precedence over this login; unset it to use the session.\n");
}

const LOGOUT_HELP = `Usage: coffer logout

Revokes the saved session on the server and forgets it (the server address
and workspace stay saved). A token in COFFER_TOKEN is left alone.

Example:
  coffer logout`;

export async function logout(argv: string[]): Promise<void> {
  const parsed = parse("logout", argv, {}, LOGOUT_HELP);
  if (!parsed) return;
  positionals("logout", parsed.positionals, []);
  const stored = readConfig();
  if (!stored.token) {
    process.stderr.write("Not logged in.\n");
    return;
  }
  const addr = normalizeAddr(stored.addr ?? DEFAULT_ADDR);
  let revoked = true;
  try {
    // The saved session, whatever COFFER_ADDR and COFFER_TOKEN say.
    await new Coffer({ addr, token: stored.token, fetch: httpFetch }).call("logout", {});
  } catch (error) {
    // Already expired or revoked: forgetting it is all that is left to do. Unreachable: say so, forget it anyway.
    if (!(error instanceof CofferError && error.code === "UNAUTHENTICATED")) {
      revoked = false;
      process.stderr.write(`warning: could not revoke the session on ${addr} (${(error as Error).message}); it expires at ${when(stored.expiresAt)} UTC\n`);
    }
  }
  const { token: _token, username: _username, expiresAt: _expiresAt, ...rest } = stored;
  writeConfig(rest);
  process.stderr.write(revoked ? `Logged out of ${addr}.\n` : `Forgot the session for ${addr}.\n`);
  if (process.env.COFFER_TOKEN) process.stderr.write("Note: COFFER_TOKEN is still set.\n");
}

const WHOAMI_HELP = `Usage: coffer whoami [--json]

Shows who the current token belongs to, its scope and expiry, the server
and the workspace in use.

Example:
  coffer whoami --json`;

interface TokenInfo {
  id: string;
  name: string;
  kind: string;
  principalId: string;
  principalName?: string;
  workspaceId: string | null;
  secrets: string[] | null;
  access: string;
  cidrs: string[] | null;
  expiresAt: string | null;
}

export async function whoami(argv: string[]): Promise<void> {
  const parsed = parse("whoami", argv, { json: { type: "boolean" } }, WHOAMI_HELP);
  if (!parsed) return;
  positionals("whoami", parsed.positionals, []);
  const connection = connect();
  const self = await connection.coffer.call<TokenInfo>("tokenSelf", {});
  const username = connection.username ?? self.principalName ?? null;
  const out = { addr: connection.addr, workspace: connection.workspace, username, tokenSource: connection.tokenSource, token: self };
  if (parsed.values.json) return printJson(out);
  const who = username ? `${username} (${self.principalId})` : self.principalId;
  process.stdout.write(
    [
      `user       ${who}`,
      `server     ${connection.addr}`,
      `workspace  ${connection.workspace}`,
      `token      ${self.kind} ${self.id}${self.name ? ` '${self.name}'` : ""} from ${connection.tokenSource === "login" ? "coffer login" : "COFFER_TOKEN"}`,
      `access     ${self.access}${self.workspaceId ? ` in ${self.workspaceId}` : ""}${self.secrets ? ` on ${self.secrets.join(", ")}` : ""}${self.cidrs ? ` from ${self.cidrs.join(", ")}` : ""}`,
      `expires    ${self.expiresAt ? when(self.expiresAt) + " UTC" : "never"}`,
    ].join("\n") + "\n",
  );
}

const WORKSPACE_HELP = `Usage: coffer workspace use NAME | list | current

  use NAME    make NAME the workspace every command works in (saved with the login;
              COFFER_WORKSPACE overrides it)
  list        the workspaces you belong to (--json)
  current     print the workspace in use

Example:
  coffer workspace use payments`;

export async function workspace(argv: string[]): Promise<void> {
  await dispatch("workspace", argv, WORKSPACE_HELP, {
    async use(rest) {
      const parsed = parse("workspace use", rest, {}, WORKSPACE_HELP);
      if (!parsed) return;
      const [name] = positionals("workspace use", parsed.positionals, ["NAME"]);
      const connection = connect({ requireToken: false });
      // Checked when there is a token to check with; the name is saved either way.
      let chosen = name!;
      if (connection.token) chosen = (await connection.coffer.call<{ name: string }>("readWorkspace", { workspace: name! })).name;
      writeConfig({ ...readConfig(), workspace: chosen });
      process.stderr.write(`Using workspace '${chosen}'.\n`);
      if (process.env.COFFER_WORKSPACE && process.env.COFFER_WORKSPACE !== chosen) {
        process.stderr.write(`Note: COFFER_WORKSPACE=${process.env.COFFER_WORKSPACE} is set and takes precedence.\n`);
      }
    },
    async list(rest) {
      const parsed = parse("workspace list", rest, { json: { type: "boolean" } }, WORKSPACE_HELP);
      if (!parsed) return;
      const connection = connect();
      const { workspaces } = await connection.coffer.call<{ workspaces: { id: string; name: string; role: string | null; maxVersions: number }[] }>("listWorkspaces", {});
      if (parsed.values.json) return printJson(workspaces);
      printTable(
        ["", "NAME", "ROLE", "ID"],
        workspaces.map((w) => [w.name === connection.workspace || w.id === connection.workspace ? "*" : "", w.name, w.role ?? "-", w.id]),
        "(no workspaces)",
      );
    },
    async current(rest) {
      const parsed = parse("workspace current", rest, {}, WORKSPACE_HELP);
      if (!parsed) return;
      process.stdout.write(connect({ requireToken: false }).workspace + "\n");
    },
  });
}
