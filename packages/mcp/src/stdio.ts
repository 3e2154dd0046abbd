/**
 * `coffer mcp`: the MCP server on stdin/stdout, for desktop and IDE agents
 * that start it as a child process. stdout carries only the protocol, so
 * nothing else may be written there.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Coffer } from "@coffer/sdk";
import { createMcpServer } from "./tools.ts";

/** Serves until stdin closes (the client went away). */
export async function serveStdio(coffer: Coffer): Promise<void> {
  const server = createMcpServer(coffer);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  await server.connect(transport);
  process.stdin.once("end", () => void server.close());
  await closed;
}
