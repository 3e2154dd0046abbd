/** coffer secrets policy NAME [options]: show, set or clear where the relay may send a secret. */
import type { RelayPolicy, RelayPolicyInput } from "@coffer/sdk";
import { parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { printJson } from "../output.ts";

const HELP = `Usage: coffer secrets policy NAME [--host HOST]… [--scheme SCHEME]… [--port PORT]… [--method METHOD]…
                              [--header NAME]… [--query NAME]… [--body] [--address IP]… [--personal] [--json]
       coffer secrets policy NAME --clear

Without options: shows the secret's relay policy. With options: replaces it
(needs manage; audited, and alerts like an update). 'coffer relay' and
base-URL routes send a secret's value only where its policy allows; a secret
without a policy is never relayed.

Options:
  --host HOST        an allowed host: api.openai.com, or *.example.com for its subdomains; repeatable
  --scheme SCHEME    https (default) or http; repeatable
  --port PORT        an allowed port (default: the scheme's own); repeatable
  --method METHOD    an allowed method (default: any); repeatable
  --header NAME      a request header the value may be placed in; repeatable
  --query NAME       a query parameter the value may be placed in; repeatable
  --body             the value may be placed in the request body
  --address IP       a loopback, private or link-local address (or CIDR) the hosts may
                     resolve to; such addresses are refused otherwise; repeatable
  --clear            remove the policy: the secret can no longer be relayed
  --personal         your personal secret NAME
  --json             print the policy as JSON

Examples:
  coffer secrets policy openai/api-key --host api.openai.com --header Authorization
  coffer secrets policy maps --host maps.example.com --query key --method GET
  coffer secrets policy openai/api-key`;

export async function policy(argv: string[]): Promise<void> {
  const many = { type: "string", multiple: true } as const;
  const parsed = parse(
    "secrets policy",
    argv,
    { host: many, scheme: many, port: many, method: many, header: many, query: many, address: many, body: { type: "boolean" }, clear: { type: "boolean" }, personal: { type: "boolean" }, json: { type: "boolean" } },
    HELP,
  );
  if (!parsed) return;
  const [name] = positionals("secrets policy", parsed.positionals, ["NAME"]);
  const { values } = parsed;
  const scope = values.personal ? "personal" : "shared";
  const setting = [values.host, values.scheme, values.port, values.method, values.header, values.query, values.address].some((list) => list?.length) || values.body;
  if (values.clear && setting) throw usage("secrets policy", "--clear takes no other policy option");
  if (setting && !values.host?.length) throw usage("secrets policy", "a policy needs at least one --host");
  const { coffer } = connect({ personal: values.personal });
  let current: RelayPolicy | null;
  if (values.clear) {
    current = await coffer.setRelayPolicy(name!, null, { scope });
    process.stderr.write(`Removed the relay policy of '${name}': it can no longer be relayed.\n`);
  } else if (setting) {
    const input: RelayPolicyInput = {
      hosts: values.host!,
      ...(values.scheme?.length ? { schemes: values.scheme.map((s) => s.toLowerCase()) } : {}),
      ...(values.port?.length ? { ports: values.port.map(portOf) } : {}),
      ...(values.method?.length ? { methods: values.method.map((m) => m.toUpperCase()) } : {}),
      ...(values.header?.length ? { headers: values.header } : {}),
      ...(values.query?.length ? { query: values.query } : {}),
      ...(values.body ? { body: true } : {}),
      ...(values.address?.length ? { addresses: values.address } : {}),
    };
    current = await coffer.setRelayPolicy(name!, input, { scope });
    process.stderr.write(`Saved the relay policy of '${name}'.\n`);
  } else {
    current = await coffer.relayPolicy(name!, { scope });
  }
  if (values.json) return printJson(current);
  if (values.clear) return;
  process.stdout.write(current ? describePolicy(current) : `'${name}' has no relay policy: it cannot be relayed. Set one with --host (see --help).\n`);
}

function portOf(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw usage("secrets policy", `--port takes a number from 1 to 65535 (got '${text}')`);
  return port;
}

function describePolicy(policy: RelayPolicy): string {
  const rows: [string, string][] = [
    ["hosts", policy.hosts.join(", ")],
    ["schemes", policy.schemes.join(", ")],
    ["ports", policy.ports.length ? policy.ports.join(", ") : "the scheme's default"],
    ["methods", policy.methods.length ? policy.methods.join(", ") : "any"],
    ["headers", policy.headers.length ? policy.headers.join(", ") : "none"],
    ["query", policy.query.length ? policy.query.join(", ") : "none"],
    ["body", policy.body ? "yes" : "no"],
    ["addresses", policy.addresses.length ? policy.addresses.join(", ") : "public only"],
  ];
  return rows.map(([label, value]) => `${label.padEnd(10)} ${value}`).join("\n") + "\n";
}
