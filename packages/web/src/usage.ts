/**
 * How to use a secret from outside the browser, filled in with its name and
 * keys: the references templates and the relay resolve, and short snippets
 * for `coffer run`, the TypeScript SDK and the Python client. Names and keys
 * only, never a value.
 */
import { envVariables, type SecretScope } from "@coffer/protocol";

export interface UsageTarget {
  name: string;
  keys: readonly string[];
  scope: SecretScope;
  workspace: string;
}

export interface Snippet {
  id: string;
  title: string;
  code: string;
}

/** Snippets show at most this many keys; the rest are counted in a comment. */
const SHOWN_KEYS = 8;

/** `@{vault.NAME}` (only for a secret with one key: it stands for that value), then `@{vault.NAME.KEY}` for each key. */
export function references(target: UsageTarget): string[] {
  const whole = target.keys.length === 1 ? [`@{vault.${target.name}}`] : [];
  return [...whole, ...target.keys.map((key) => `@{vault.${target.name}.${key}}`)];
}

export function snippets(target: UsageTarget): Snippet[] {
  return [run(target), typescript(target), python(target, false), python(target, true)];
}

function run({ name, keys, scope, workspace }: UsageTarget): Snippet {
  const variables = envVariables(name, keys).map((v) => v.variable);
  const env = workspace === "default" ? "" : `COFFER_WORKSPACE=${workspace} `;
  const personal = scope === "personal" ? " --personal" : "";
  const hidden = variables.length - SHOWN_KEYS;
  return {
    id: "run",
    title: "coffer run",
    code: [
      `# The command's environment gets:`,
      ...variables.slice(0, SHOWN_KEYS).map((variable) => `#   ${variable}`),
      ...(hidden > 0 ? [`#   … and ${hidden} more`] : []),
      `${env}coffer run --secret ${name}${personal} -- ./your-command`,
    ].join("\n"),
  };
}

function typescript({ name, keys, scope, workspace }: UsageTarget): Snippet {
  const options = [workspace === "default" ? "" : `workspace: ${JSON.stringify(workspace)}`].filter(Boolean).join(", ");
  const read = scope === "personal" ? `${JSON.stringify(name)}, { scope: "personal" }` : JSON.stringify(name);
  return {
    id: "typescript",
    title: "TypeScript",
    code: [
      `import { Coffer } from "@coffer/sdk";`,
      ``,
      `// Reads COFFER_ADDR and COFFER_TOKEN${options ? "" : " (and COFFER_WORKSPACE)"}`,
      `const coffer = new Coffer(${options ? `{ ${options} }` : ""});`,
      `const { data } = await coffer.secrets.get(${read});`,
      ...shown(keys).map((key) => `const ${variable(key)} = ${/^[A-Za-z_$][\w$]*$/.test(key) ? `data.${key}` : `data[${JSON.stringify(key)}]`};`),
      ...more(keys, "//"),
    ].join("\n"),
  };
}

function python({ name, keys, scope, workspace }: UsageTarget, async: boolean): Snippet {
  const client = async ? "AsyncVault" : "Vault";
  const args = workspace === "default" ? "" : `workspace=${JSON.stringify(workspace)}`;
  const scoped = scope === "personal" ? `, scope="personal"` : "";
  return {
    id: async ? "python-async" : "python",
    title: async ? "Python (asyncio)" : "Python",
    code: [
      `from coffer import ${client}`,
      ``,
      `# Reads COFFER_ADDR and COFFER_TOKEN${args ? "" : " (and COFFER_WORKSPACE)"}`,
      `vault = ${client}(${args})`,
      `secret = ${async ? "await " : ""}vault.secrets.get(${JSON.stringify(name)}${scoped})`,
      ...shown(keys).map((key) => `${variable(key)} = secret.data[${JSON.stringify(key)}]`),
      ...more(keys, "#"),
    ].join("\n"),
  };
}

function shown(keys: readonly string[]): readonly string[] {
  return keys.slice(0, SHOWN_KEYS);
}

function more(keys: readonly string[], comment: string): string[] {
  return keys.length > SHOWN_KEYS ? [`${comment} … and ${keys.length - SHOWN_KEYS} more keys: ${keys.slice(SHOWN_KEYS).join(", ")}`] : [];
}

/**
 * Words TypeScript or Python keep for themselves, and the names the snippets
 * already use (coffer, data, secret, vault): a key named so gets a trailing
 * `_` as a variable, so it shadows nothing.
 */
const RESERVED = new Set(
  "coffer data secret vault asyncvault asyncio and as assert async await break case catch class const continue debugger def default del delete do elif else enum except export extends false finally for from function global if import in instanceof is lambda let new none nonlocal not null or pass raise return super switch this throw true try typeof var void while with yield".split(" "),
);

/** A local variable for a key: its characters outside [A-Za-z0-9_] become `_`, never starting with a digit or being a keyword. */
function variable(key: string): string {
  const name = key.replace(/[^A-Za-z0-9_]/g, "_");
  if (/^[0-9]/.test(name)) return `_${name}`;
  return RESERVED.has(name.toLowerCase()) ? `${name}_` : name;
}
