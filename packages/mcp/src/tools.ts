/**
 * Coffer's MCP tools: what an agent may do with secrets through the Model
 * Context Protocol. The threat is the agent itself (a prompt injection, a
 * confused model, a log of its context): so no tool returns a value. Each
 * tool is one call of Coffer's REST API through the SDK, so the server
 * checks the token's permission exactly as for any other client, and audits
 * the call; what comes back is metadata, a redacted relayed answer, or an
 * HMAC signature.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { CofferError, type Coffer, type SecretSummary } from "@coffer/sdk";
import * as z from "zod";

export const MCP_VERSION = "0.1.0";

/** Told to the model in every tool that names secrets: the one way to use a value without seeing it. */
const REFERENCE =
  "Reference a secret as @{vault.NAME} (a secret with one key) or @{vault.NAME.KEY} (one key of a secret with several, as list_secrets shows them); " +
  "Coffer puts the value in on its side. You never see a value: answers show the placeholder where a value was.";

/** How many secrets list_secrets describes at most (each needs one metadata call for its relay policy). */
export const LIST_LIMIT = 200;
/** Metadata calls list_secrets keeps in flight. */
const CONCURRENCY = 4;

const Scope = z.enum(["shared", "personal"]).optional().describe("Where names are looked up: the workspace's secrets (shared, the default) or your personal ones");
const Encoding = z.enum(["utf8", "base64"]).optional().describe("How message is given: text (utf8, the default) or bytes in base64");

/** What list_secrets says of one secret: never a value. */
export interface SecretListing {
  name: string;
  /** How to name each of its values in relay_request. */
  references: string[];
  keys: string[];
  type: string;
  label: string;
  tags: string[];
  scope: string;
  /** Hosts its relay policy allows; empty: it cannot be relayed. */
  relayHosts: string[];
}

/** An MCP server whose tools act through `coffer` (its token and workspace). */
export function createMcpServer(coffer: Coffer): McpServer {
  const server = new McpServer({ name: "coffer", version: MCP_VERSION }, { instructions: `Coffer keeps secrets (API keys, tokens, passwords) that you can use but never read. ${REFERENCE}` });

  server.registerTool(
    "list_secrets",
    {
      title: "List secrets",
      description: `Lists the secrets you may see: names, keys, labels, types and the hosts each one's relay policy allows (metadata only, never a value). ${REFERENCE}`,
      inputSchema: {
        prefix: z.string().max(256).optional().describe("Only names under this folder, e.g. 'payments/'"),
        scope: Scope,
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ prefix, scope }) =>
      run(async () => {
        const all = await coffer.secrets.list({ recursive: true, ...(prefix ? { prefix } : {}), ...(scope ? { scope } : {}) });
        const listed = all.slice(0, LIST_LIMIT);
        const secrets = await mapLimited(listed, CONCURRENCY, (secret) => describeSecret(coffer, secret, scope));
        return { secrets, ...(all.length > listed.length ? { truncated: `${all.length - listed.length} more; narrow with prefix` } : {}) };
      }),
  );

  server.registerTool(
    "relay_request",
    {
      title: "Make an HTTP request with secrets",
      description:
        `Makes an HTTP request through Coffer with secrets in it: put placeholders in header values, query parameter values or the body, ` +
        `e.g. header "Authorization: Bearer @{vault.openai/api-key}". ${REFERENCE} ` +
        "Each secret's relay policy must allow the host, method and the place the value goes (list_secrets shows its hosts); otherwise nothing is sent. " +
        "The answer (status, headers, body) comes back with every value replaced by its placeholder.",
      inputSchema: {
        method: z.string().regex(/^[A-Za-z]{1,20}$/).describe("GET, POST, PUT, PATCH, DELETE, …"),
        url: z.string().max(8192).describe("http(s) URL; placeholders only in query parameter values"),
        headers: z.record(z.string(), z.string()).optional().describe("Request headers; values may hold placeholders"),
        body: z.string().optional().describe("The request body as text; may hold placeholders"),
        scope: Scope,
      },
      annotations: { readOnlyHint: false, openWorldHint: true },
    },
    ({ method, url, headers, body, scope }) =>
      run(() => coffer.relay({ method, url, ...(headers ? { headers } : {}), ...(body !== undefined ? { body } : {}), ...(scope ? { scope } : {}) })),
  );

  server.registerTool(
    "hmac_sign",
    {
      title: "Sign with an HMAC secret",
      description: `Signs a message with an HMAC secret's key (HMAC-SHA256) without revealing the key; answers 'v<version>:<base64url signature>'. Name the secret by its name (not a placeholder).`,
      inputSchema: {
        secret: z.string().min(1).max(256).describe("The HMAC secret's name, e.g. 'webhooks/signing'"),
        message: z.string().describe("What to sign"),
        encoding: Encoding,
        scope: Scope,
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ secret, message, encoding, scope }) => run(() => coffer.secrets.sign(secret, message, { ...(encoding ? { encoding } : {}), ...(scope ? { scope } : {}) })),
  );

  server.registerTool(
    "hmac_verify",
    {
      title: "Verify an HMAC signature",
      description: "Checks a signature made by hmac_sign (or by a partner holding the same key) in constant time; answers whether it is valid. Name the secret by its name.",
      inputSchema: {
        secret: z.string().min(1).max(256).describe("The HMAC secret's name"),
        message: z.string().describe("The signed message"),
        signature: z.string().max(512).describe("'v<version>:<base64url>' as hmac_sign gives it"),
        encoding: Encoding,
        scope: Scope,
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ secret, message, signature, encoding, scope }) =>
      run(() => coffer.secrets.verify(secret, message, signature, { ...(encoding ? { encoding } : {}), ...(scope ? { scope } : {}) })),
  );

  server.registerTool(
    "request_access",
    {
      title: "Ask a person for access to a secret",
      description:
        "Asks the people who manage a secret to grant you 'use' (or 'see') on it, with your reason; answers the pending request at once, and a person approves or denies it later. " +
        "Use it when a tool answers ACCESS_DENIED for a secret you need. A relayed call on a secret that needs approval for each use waits for one by itself: no need to ask first.",
      inputSchema: {
        secret: z.string().min(1).max(256).describe("The secret's name, as list_secrets shows it"),
        level: z.enum(["use", "see"]).optional().describe("use (the default): use it in relay_request and hmac_sign; see: list it"),
        reason: z.string().max(500).describe("Why you need it, for the person deciding"),
      },
      annotations: { readOnlyHint: false, openWorldHint: false },
    },
    ({ secret, level, reason }) => run(() => coffer.approvals.request(secret, level ?? "use", reason)),
  );

  return server;
}

async function describeSecret(coffer: Coffer, secret: SecretSummary, scope: "shared" | "personal" | undefined): Promise<SecretListing> {
  const metadata = await coffer.secrets.metadata(secret.id, scope ? { scope } : {});
  return {
    name: secret.name,
    references: secret.keys.length === 1 ? [`@{vault.${secret.name}}`] : secret.keys.map((key) => `@{vault.${secret.name}.${key}}`),
    keys: secret.keys,
    type: secret.type,
    label: secret.label,
    tags: secret.tags,
    scope: secret.scope,
    relayHosts: metadata.relayPolicy?.hosts ?? [],
  };
}

/**
 * A tool's answer as JSON text (and structured content), or Coffer's refusal
 * as a tool error the model can read: `CODE: message`. Only Coffer's coded
 * errors carry their message (the server writes them, never with a value);
 * anything else is named, not quoted.
 */
async function run(call: () => Promise<object>): Promise<CallToolResult> {
  try {
    const result = await call();
    return { content: [{ type: "text", text: JSON.stringify(result, null, 2) }], structuredContent: result as Record<string, unknown> };
  } catch (error) {
    const failure =
      error instanceof CofferError
        ? { code: error.code, status: error.status, message: error.message }
        : { code: "UNAVAILABLE", status: 503, message: `could not reach the Coffer server (${networkReason(error)})` };
    return { isError: true, content: [{ type: "text", text: `${failure.code}: ${failure.message}` }], structuredContent: { error: failure } };
  }
}

/** A network failure's code (ECONNREFUSED, …), never its message, which may quote a URL. */
function networkReason(error: unknown): string {
  const code = (error as { cause?: { code?: unknown }; code?: unknown })?.cause?.code ?? (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : "network error";
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
