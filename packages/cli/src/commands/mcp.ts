/**
 * coffer mcp: Coffer as an MCP server on stdin/stdout, for agents in desktop
 * apps and IDEs (Claude Desktop, Cursor, VS Code) that start it themselves.
 */
import { serveStdio } from "@coffer/mcp";
import { parse, positionals } from "../args.ts";
import { connect } from "../client.ts";

const HELP = `Usage: coffer mcp [--workspace WS] [--agent NAME] [--session ID]

Runs Coffer as a Model Context Protocol (MCP) server on stdin and stdout, for
an agent's client to start (it speaks JSON-RPC; nothing is printed for you).
Its tools list secrets (metadata only), make HTTP requests with
@{vault.NAME} placeholders that Coffer fills in, and sign or verify with HMAC
secrets. No tool ever returns a value; answers show placeholders instead.

The token needs only 'use' on the secrets the agent should use: give it one
of its own ('coffer tokens create --access use --label agent=NAME').

Options:
  --workspace WS        this workspace instead of the current one
  --agent, --session    who the calls are for, recorded in the audit log

Environment: COFFER_ADDR, COFFER_TOKEN, COFFER_WORKSPACE (else the saved login).

Client configuration (Claude Desktop, Cursor, VS Code): docs/mcp.md
  {"mcpServers": {"coffer": {"command": "coffer", "args": ["mcp"],
    "env": {"COFFER_ADDR": "http://127.0.0.1:8200", "COFFER_TOKEN": "cft_…"}}}}`;

export async function run(argv: string[]): Promise<void> {
  const parsed = parse("mcp", argv, { workspace: { type: "string" }, agent: { type: "string" }, session: { type: "string" } }, HELP);
  if (!parsed) return;
  positionals("mcp", parsed.positionals, []);
  const { values } = parsed;
  const { coffer } = connect({
    workspace: values.workspace,
    attribution: { tool: "mcp", ...(values.agent ? { agent: values.agent } : {}), ...(values.session ? { session: values.session } : {}) },
  });
  await serveStdio(coffer);
}
