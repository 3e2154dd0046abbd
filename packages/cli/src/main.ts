/**
 * The `coffer` command line. Each command lives in its own module and is
 * loaded only when run, so a client command never pays for loading the
 * server (Fastify, Kysely, pg), and `--help` loads nothing at all.
 */
import { CliError, EXIT, exitCodesHelp } from "./cli-error.ts";

type Run = (argv: string[]) => Promise<void>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Run> }> = {
  login: { summary: "Log in to a server; the session is saved for the next commands", load: async () => (await import("./commands/auth.ts")).login },
  logout: { summary: "Revoke and forget the saved session", load: async () => (await import("./commands/auth.ts")).logout },
  whoami: { summary: "Who the current token belongs to, and its scope", load: async () => (await import("./commands/auth.ts")).whoami },
  workspace: { summary: "Choose the workspace commands work in: use NAME, list, current", load: async () => (await import("./commands/auth.ts")).workspace },
  secrets: { summary: "list, get, set, rm, history, rollback, share secrets", load: async () => (await import("./commands/secrets.ts")).run },
  run: { summary: "Run a command with secrets in its environment, masked in its output", load: async () => (await import("./commands/run.ts")).run },
  inject: { summary: "Render @{vault.NAME[.KEY]} placeholders in a template", load: async () => (await import("./commands/inject.ts")).run },
  relay: { summary: "Make an HTTP call with secrets in it, never seeing them (curl-like)", load: async () => (await import("./commands/relay.ts")).relay },
  "relay-routes": { summary: "Base-URL routes for unchanged SDKs: list, set, delete", load: async () => (await import("./commands/relay.ts")).routes },
  approvals: { summary: "Approve or deny uses that wait for a person; which secrets need approval", load: async () => (await import("./commands/approvals.ts")).run },
  mcp: { summary: "Serve Coffer's agent tools over MCP on stdin/stdout (for Claude Desktop, Cursor, …)", load: async () => (await import("./commands/mcp.ts")).run },
  export: { summary: "Print secrets as dotenv, JSON or YAML", load: async () => (await import("./commands/transfer.ts")).exportSecrets },
  import: { summary: "Create or update secrets from a dotenv or JSON file", load: async () => (await import("./commands/transfer.ts")).importSecrets },
  tokens: { summary: "Create, list and revoke API tokens", load: async () => (await import("./commands/tokens.ts")).run },
  users: { summary: "Administer users: list, create, disable, enable", load: async () => (await import("./commands/users.ts")).run },
  groups: { summary: "Administer the workspace's groups", load: async () => (await import("./commands/groups.ts")).run },
  members: { summary: "Administer the workspace's members and their roles", load: async () => (await import("./commands/members.ts")).run },
  audit: { summary: "Read, follow, export and verify the audit log", load: async () => (await import("./commands/audit.ts")).run },
  server: { summary: "Run the Coffer server (API on one port)", load: async () => (await import("./commands/server.ts")).run },
  operator: { summary: "Operator tasks: keys (rotate-key, key-status), the seal (init, unseal, seal, rekey, …), backup and restore", load: async () => (await import("./commands/operator.ts")).run },
};

/** Command names and summaries in two columns, two spaces apart at the longest name. */
const NAME_WIDTH = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;

const HELP = `coffer — secrets for teams and AI agents

Usage: coffer <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(NAME_WIDTH)}${command.summary}`)
  .join("\n")}

Run 'coffer <command> --help' for a command's options and an example.

Getting started:
  coffer login --addr http://127.0.0.1:8200
  coffer secrets set OPENAI_KEY              # prompts for the value (hidden)
  coffer run --secret OPENAI_KEY -- python agent.py

Values are never taken from the command line (other users see it in 'ps',
your shell keeps it in its history): commands prompt for them, or read them
from a file or stdin.

Environment:
  COFFER_ADDR, COFFER_TOKEN, COFFER_WORKSPACE   override the saved login; COFFER_ADDR (and --addr)
                                                may list several nodes, http://a:8200,http://b:8200:
                                                a node that cannot be reached is skipped (writes
                                                move on only if nothing was sent)
  COFFER_CONFIG_DIR                             where the login is saved (default
                                                ${"$"}XDG_CONFIG_HOME/coffer or ~/.config/coffer)

${exitCodesHelp()}`;

/**
 * Whoever reads the output stopped reading (`coffer audit export | head`):
 * stop too, quietly, as a command a closed pipe ends does. Not for `coffer
 * run`, which keeps its command running (commands/run.ts).
 */
function stopOnClosedPipe(error: NodeJS.ErrnoException): void {
  if (error.code !== "EPIPE") throw error;
  process.exit(EXIT.closedPipe);
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name !== "run") process.stdout.on("error", stopOnClosedPipe);
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP + "\n");
    return;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write("coffer 0.1.0\n");
    return;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new CliError(`unknown command '${name}'; run 'coffer --help'`, EXIT.usage);
  await (await command.load())(rest);
}

main(process.argv.slice(2)).catch(async (error: unknown) => {
  // Server and network errors become one line and an exit code; the translation loads only when needed.
  const failure = error instanceof CliError ? error : (await import("./client.ts")).toCliError(error);
  process.stderr.write(`coffer: ${failure.message}\n`);
  process.exitCode = failure.exitCode;
});
