/**
 * The SDK client every client command uses, configured from the login file
 * and the environment, and the translation of its errors into one-line
 * messages and the CLI's exit codes.
 */
import { Coffer, CofferError, type Attribution } from "@coffer/sdk";
import { CliError, EXIT } from "./cli-error.ts";
import { settings, type Settings } from "./config.ts";
import { httpFetch } from "./http.ts";

export interface Connection extends Settings {
  coffer: Coffer;
}

/** What the error messages may name: set by the last connect(). */
let current: { addr: string; workspace: string; personal: boolean } | undefined;

export interface ConnectOptions {
  /** --addr, where the command has it. */
  addr?: string;
  /** Personal scope: messages say so. */
  personal?: boolean;
  /** Commands that work without a token (workspace use) say false. */
  requireToken?: boolean;
  /** Send no token at all, whatever is configured (login). */
  anonymous?: boolean;
  /** --workspace, where the command has it: this command only, the saved choice stays. */
  workspace?: string | undefined;
  /** --agent, --session, --tool: who a relayed call is for, in the audit log. */
  attribution?: Attribution;
  /** How often a 429 is retried after its Retry-After (the SDK's default, 3, unless given). */
  maxRetries?: number;
}

export function connect(options: ConnectOptions = {}): Connection {
  const configured = settings(options.addr);
  const chosen = options.workspace ? { ...configured, workspace: options.workspace } : configured;
  const found: Settings = options.anonymous ? { ...chosen, token: undefined, tokenSource: "none", username: undefined } : chosen;
  if (options.requireToken !== false && !options.anonymous && !found.token) {
    throw new CliError(`not logged in to ${found.addr}: run 'coffer login', or set COFFER_TOKEN to a token`, EXIT.unauthenticated);
  }
  current = { addr: found.addr, workspace: found.workspace, personal: options.personal ?? false };
  // token "" rather than undefined: the SDK would otherwise fall back to COFFER_TOKEN itself.
  const coffer = new Coffer({ addr: found.addr, token: found.token ?? "", workspace: found.workspace, fetch: httpFetch, maxRetries: options.maxRetries, ...(options.attribution ? { attribution: options.attribution } : {}) });
  return { ...found, coffer };
}

export const EXIT_BY_CODE: Record<string, number> = {
  UNAUTHENTICATED: EXIT.unauthenticated,
  ACCESS_DENIED: EXIT.denied,
  NOT_FOUND: EXIT.notFound,
  SECRET_NOT_FOUND: EXIT.notFound,
  WORKSPACE_NOT_FOUND: EXIT.notFound,
  VERSION_NOT_FOUND: EXIT.notFound,
  VERSION_CONFLICT: EXIT.conflict,
  SECRET_ALREADY_EXISTS: EXIT.conflict,
  ALREADY_EXISTS: EXIT.conflict,
  WORKSPACE_ALREADY_EXISTS: EXIT.conflict,
  INVALID_REQUEST: EXIT.usage,
  DESTINATION_NOT_ALLOWED: EXIT.denied,
  INVALID_SECRET_TYPE: EXIT.usage,
  PAYLOAD_TOO_LARGE: EXIT.usage,
  UNSUPPORTED_MEDIA_TYPE: EXIT.usage,
  SEALED: EXIT.unavailable,
};

/** One line per error code, naming what the command was about; the code stays at the end for scripts and searches. */
export function describe(error: CofferError): string {
  const where = current ? `workspace '${current.workspace}'${current.personal ? " (personal scope)" : ""}` : "this workspace";
  const message = error.message.replace(/\.$/, "");
  const text = ((): string => {
    switch (error.code) {
      case "UNAUTHENTICATED":
        if (/wrong username or password/.test(message)) return "login failed: wrong username or password";
        return `not logged in${current ? ` to ${current.addr}` : ""}, or the token expired or was revoked: run 'coffer login' or set COFFER_TOKEN (server: ${message})`;
      case "ACCESS_DENIED":
        return `access denied: ${message}`;
      case "DESTINATION_NOT_ALLOWED":
        return `relay refused, nothing was sent: ${message}`;
      case "SECRET_NOT_FOUND": {
        const name = /secret '(.*)' was not found/.exec(message)?.[1];
        return name === undefined ? `${message} in ${where}` : `secret '${name}' not found in ${where}`;
      }
      case "WORKSPACE_NOT_FOUND":
        return `${message}, or you are not a member of it ('coffer workspace use NAME' picks another)`;
      case "VERSION_CONFLICT":
        return `${message}: it changed meanwhile; read it again and retry`;
      case "INVALID_REQUEST":
        return `invalid request: ${message}`;
      case "RATE_LIMITED":
        // A login is not retried (a person is waiting): say when to try again. Other calls were retried by the SDK.
        if (/failed logins/.test(message)) {
          const wait = error.retryAfter === undefined ? "" : `; try again in ${error.retryAfter} s`;
          return `login refused for now: ${wait ? message.replace(/; retry after \d+ s$/, "") : message}${wait}`;
        }
        return `rate limited by the server, still after retrying: ${message}. A workspace admin can raise the limits (rateLimits in the workspace settings)`;
      case "SEALED":
        return `the server is sealed or cannot reach its store: ${message}`;
      case "INTEGRITY_ERROR":
      case "INTERNAL":
        return `the server failed: ${message}${error.requestId ? ` (request ${error.requestId})` : ""}`;
      default:
        return message;
    }
  })();
  return `${text} (${error.code})`;
}

/** Any error a command lets escape, as a CliError with the right exit code. */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof CofferError) return new CliError(describe(error), EXIT_BY_CODE[error.code] ?? EXIT.failure);
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|CERT_|ERR_TLS|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO)/.test(code)) {
    return new CliError(`cannot reach the server at ${current?.addr ?? "its address"} (${(error as Error).message})`, EXIT.unavailable);
  }
  if (error instanceof SyntaxError && current) {
    return new CliError(`the server at ${current.addr} did not answer with JSON: is it a Coffer server?`, EXIT.unavailable);
  }
  return new CliError((error as Error)?.message ?? String(error), EXIT.failure);
}
