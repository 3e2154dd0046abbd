/** Coffer as a Model Context Protocol server: tools that use secrets and never return one (docs/mcp.md). */
export { createMcpServer, LIST_LIMIT, MCP_VERSION, type SecretListing } from "./tools.ts";
export { serveStdio } from "./stdio.ts";
