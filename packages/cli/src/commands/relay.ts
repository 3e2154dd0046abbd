/**
 * coffer relay METHOD URL …  (curl-like: Coffer makes the call with secret values in place of placeholders)
 * coffer relay-routes list | set | delete
 *
 * Only placeholders ever appear on the command line; the values stay on the
 * server, and what comes back has them replaced by their placeholders.
 */
import { CofferError, type RelayRoute, type SecretScope } from "@coffer/sdk";
import { readFileSync } from "node:fs";
import { dispatch, parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { printJson, printTable, when } from "../output.ts";

const RELAY_HELP = `Usage: coffer relay METHOD URL [-H 'Name: value']… [-d BODY | -d @FILE | -d @-] [-i] [--scope personal]
                    [--agent NAME] [--session ID] [--tool NAME] [--fail]

Has Coffer make an HTTP call for you with @{vault.NAME} and @{vault.NAME.KEY}
placeholders replaced by secret values, in header values, the query string or
the body. You need only 'use' on the secrets, and each secret's relay policy
('coffer secrets policy NAME') must allow the host, scheme, port, method and
the place the value goes. The answer is printed as curl prints it, with every
value replaced by its placeholder: you never see a value, and neither does
the agent that runs this.

Options:
  -H, --header 'Name: value'   a request header; repeatable
  -d, --data BODY              the request body; @FILE reads a file, @- reads stdin
  -i, --include                print the status line and the answer's headers first
  --scope personal             placeholders name your personal secrets (default: the workspace's)
  --personal                   the same as --scope personal
  --agent, --session, --tool   who the call is for, recorded in the audit log
  -f, --fail                   exit 1 when the upstream answers 400 or more
  --workspace WS               this workspace instead of the current one

Refusals (nothing was sent) exit non-zero with the server's reason:
DESTINATION_NOT_ALLOWED (4), ACCESS_DENIED (4), SECRET_NOT_FOUND (5),
INVALID_REQUEST (2), RATE_LIMITED (1: the token's relay cap).

Examples:
  coffer relay GET https://api.openai.com/v1/models -H 'Authorization: Bearer @{vault.openai/api-key}'
  coffer relay POST https://api.openai.com/v1/chat/completions -i \\
    -H 'Authorization: Bearer @{vault.openai/api-key}' -H 'Content-Type: application/json' -d @request.json
  coffer relay GET 'https://maps.example.com/geocode?q=Paris&key=@{vault.maps.key}'`;

export async function relay(argv: string[]): Promise<void> {
  const parsed = parse(
    "relay",
    argv,
    {
      header: { type: "string", short: "H", multiple: true },
      data: { type: "string", short: "d" },
      include: { type: "boolean", short: "i" },
      scope: { type: "string" },
      personal: { type: "boolean" },
      agent: { type: "string" },
      session: { type: "string" },
      tool: { type: "string" },
      fail: { type: "boolean", short: "f" },
      workspace: { type: "string" },
    },
    RELAY_HELP,
  );
  if (!parsed) return;
  const [method, url] = positionals("relay", parsed.positionals, ["METHOD", "URL"]);
  const { values } = parsed;
  if (!/^[A-Za-z]+$/.test(method!)) throw usage("relay", `METHOD is a word such as GET or POST (got '${method}')`);
  if (!/^https?:\/\//i.test(url!)) throw usage("relay", `URL starts with https:// or http:// (got '${url}')`);
  const scope = scopeOf(values.scope, values.personal);
  const headers = headersOf("relay", values.header ?? []);
  const body = values.data === undefined ? undefined : await bodyOf(values.data);
  const { coffer } = connect({ personal: scope === "personal", workspace: values.workspace, attribution: { agent: values.agent, session: values.session, tool: values.tool } });
  let answer;
  try {
    answer = await coffer.relay({ method: method!.toUpperCase(), url: url!, headers, ...(body === undefined ? {} : { body }), scope, stream: true });
  } catch (error) {
    // The relay is not retried (a cap's Retry-After can be an hour away): say so instead of "still after retrying".
    if (error instanceof CofferError && error.code === "RATE_LIMITED") throw new CliError(`relay refused, nothing was sent: ${error.message.replace(/\.$/, "")} (RATE_LIMITED)`, EXIT.failure);
    throw error;
  }
  if (values.include) {
    const lines = [`HTTP/1.1 ${answer.status}`, ...Object.entries(answer.headers).map(([name, value]) => `${name}: ${value}`)];
    process.stdout.write(lines.join("\r\n") + "\r\n\r\n");
  }
  if (answer.body) {
    for await (const chunk of answer.body as unknown as AsyncIterable<Uint8Array>) {
      if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once("drain", resolve));
    }
  }
  if (values.fail && answer.status >= 400) throw new CliError(`the upstream answered ${answer.status}`, EXIT.failure);
}

function scopeOf(scope: string | undefined, personal: boolean | undefined): SecretScope {
  if (personal) return "personal";
  if (scope === undefined || scope === "shared" || scope === "personal") return scope ?? "shared";
  throw usage("relay", `--scope is shared or personal (got '${scope}')`);
}

/** 'Name: value' pairs, as curl takes them. */
function headersOf(command: string, given: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const header of given) {
    const colon = header.indexOf(":");
    const name = colon < 0 ? "" : header.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw usage(command, `a header is 'Name: value' (got '${header}')`);
    headers[name] = header.slice(colon + 1).trim();
  }
  return headers;
}

/** BODY as given; @FILE: the file (text when it is UTF-8, else its bytes); @-: stdin. */
async function bodyOf(data: string): Promise<string | Uint8Array> {
  if (!data.startsWith("@")) return data;
  const path = data.slice(1);
  let bytes: Buffer;
  try {
    bytes = path === "-" ? await stdinBytes() : readFileSync(path);
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`, EXIT.usage);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return new Uint8Array(bytes);
  }
}

/** All of stdin as sent, trailing newline included (curl's --data-binary @-). */
async function stdinBytes(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const ROUTES_HELP = `Usage: coffer relay-routes <command> [options]

Base-URL routes let programs and unchanged SDKs (OpenAI's, for one) use a
secret through Coffer: point them at
  http://COFFER/relay/WORKSPACE/ROUTE/…
with a Coffer token as their API key, and Coffer forwards each request to the
route's target with the route's header templates filled in.

Commands:
  list                              the workspace's routes (any member)
  set NAME --target URL [-H …]      create or replace a route (workspace admins)
  delete NAME                       remove a route (workspace admins)

Example:
  coffer relay-routes set openai --target https://api.openai.com \\
    -H 'Authorization: Bearer @{vault.openai/api-key}'
  OPENAI_BASE_URL=http://127.0.0.1:8200/relay/default/openai/v1 \\
    OPENAI_API_KEY="$COFFER_TOKEN" python agent.py

Run 'coffer relay-routes <command> --help' for details and more examples.`;

export async function routes(argv: string[]): Promise<void> {
  await dispatch("relay-routes", argv, ROUTES_HELP, { list: listRoutes, set: setRoute, delete: deleteRoute }, { ls: "list", put: "set", rm: "delete" });
}

const LIST_HELP = `Usage: coffer relay-routes list [--workspace WS] [--json]

The workspace's base-URL routes: name, target and header templates (which
hold placeholders only, never values).

Example:
  coffer relay-routes list`;

async function listRoutes(argv: string[]): Promise<void> {
  const parsed = parse("relay-routes list", argv, { workspace: { type: "string" }, json: { type: "boolean" } }, LIST_HELP);
  if (!parsed) return;
  positionals("relay-routes list", parsed.positionals, []);
  const { coffer, workspace, addr } = connect({ workspace: parsed.values.workspace });
  const items = await coffer.relayRoutes.list();
  if (parsed.values.json) return printJson(items);
  printTable(
    ["NAME", "TARGET", "HEADERS", "UPDATED", "DESCRIPTION"],
    items.map((r) => [r.name, r.target, templates(r), when(r.updatedAt), r.description]),
    `(no relay routes in workspace '${workspace}')`,
  );
  if (items.length) process.stderr.write(`Base URL: ${addr.replace(/\/+$/, "")}/relay/${workspace}/NAME\n`);
}

function templates(route: RelayRoute): string {
  return [...Object.entries(route.headers).map(([name, value]) => `${name}: ${value}`), ...Object.entries(route.query).map(([name, value]) => `?${name}=${value}`)].join("; ") || "-";
}

const SET_HELP = `Usage: coffer relay-routes set NAME --target URL [-H 'Header: template']… [--query 'name=template']…
                              [--description TEXT] [--workspace WS] [--json]

Creates or replaces the route NAME (lowercase letters, digits and '-').
Requests to /relay/WORKSPACE/NAME/PATH go to TARGET/PATH with these headers
(and query parameters) set; templates hold placeholders, never values. Each
secret a template names needs a relay policy allowing the target and the
header ('coffer secrets policy'). Workspace admins only.

Options:
  --target URL               where requests go: https://api.openai.com
  -H, --header 'Name: tpl'   a header template; repeatable
  --query 'name=tpl'         a query parameter template; repeatable
  --description TEXT         what the route is for

Example:
  coffer relay-routes set openai --target https://api.openai.com \\
    -H 'Authorization: Bearer @{vault.openai/api-key}' --description 'OpenAI for agents'
  # then, in the agent: OpenAI(base_url="http://127.0.0.1:8200/relay/default/openai/v1", api_key=COFFER_TOKEN)`;

async function setRoute(argv: string[]): Promise<void> {
  const parsed = parse(
    "relay-routes set",
    argv,
    { target: { type: "string" }, header: { type: "string", short: "H", multiple: true }, query: { type: "string", multiple: true }, description: { type: "string" }, workspace: { type: "string" }, json: { type: "boolean" } },
    SET_HELP,
  );
  if (!parsed) return;
  const [name] = positionals("relay-routes set", parsed.positionals, ["NAME"]);
  const { values } = parsed;
  if (!values.target) throw usage("relay-routes set", "missing --target URL");
  const query: Record<string, string> = {};
  for (const pair of values.query ?? []) {
    const eq = pair.indexOf("=");
    if (eq < 1) throw usage("relay-routes set", `a query template is 'name=template' (got '${pair}')`);
    query[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const { coffer, workspace, addr } = connect({ workspace: values.workspace });
  const route = await coffer.relayRoutes.put(name!, {
    target: values.target,
    headers: headersOf("relay-routes set", values.header ?? []),
    query,
    ...(values.description === undefined ? {} : { description: values.description }),
  });
  if (values.json) return printJson(route);
  process.stderr.write(`Saved relay route '${route.name}' → ${route.target}. Base URL: ${addr.replace(/\/+$/, "")}/relay/${workspace}/${route.name}\n`);
}

const DELETE_HELP = `Usage: coffer relay-routes delete NAME [--workspace WS]

Removes a route; requests to it fail from now on. Workspace admins only.

Example:
  coffer relay-routes delete openai`;

async function deleteRoute(argv: string[]): Promise<void> {
  const parsed = parse("relay-routes delete", argv, { workspace: { type: "string" } }, DELETE_HELP);
  if (!parsed) return;
  const [name] = positionals("relay-routes delete", parsed.positionals, ["NAME"]);
  const { coffer } = connect({ workspace: parsed.values.workspace });
  await coffer.relayRoutes.delete(name!);
  process.stderr.write(`Deleted relay route '${name}'.\n`);
}
