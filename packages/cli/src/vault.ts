/** Reading many secrets' values at once, and naming them as environment variables. */
import type { Coffer, Secret, SecretScope } from "@coffer/sdk";
import { CliError, EXIT } from "./cli-error.ts";
import { envName, envVariables } from "@coffer/protocol";

/** The server's limit for one batch read. */
export const BATCH = 100;

/** The named secrets' current values: one request per 100 names (one request in all for up to 100). */
export async function readSecrets(coffer: Coffer, names: string[], scope: SecretScope): Promise<Secret[]> {
  const unique = [...new Set(names)];
  const out: Secret[] = [];
  for (let i = 0; i < unique.length; i += BATCH) out.push(...(await coffer.secrets.getMany(unique.slice(i, i + BATCH), { scope })));
  return out;
}

/** Every secret the caller may read (optionally under a folder): a list, then batch reads. */
export async function readAll(coffer: Coffer, scope: SecretScope, prefix?: string): Promise<Secret[]> {
  const items = await coffer.secrets.list({ scope, ...(prefix ? { prefix: folder(prefix) } : {}) });
  return items.length ? readSecrets(coffer, items.map((item) => item.name), scope) : [];
}

/** "payments" and "payments/" both mean the folder "payments/". */
export function folder(prefix: string): string {
  return prefix.endsWith("/") ? prefix : prefix + "/";
}

/**
 * Environment variables for secrets: `NAME` for a secret whose only key is
 * `value`, `NAME_KEY` for each key of others. `renames` (from --env-name)
 * maps a secret name to a variable name (a prefix, for key/value secrets),
 * or `NAME.KEY` to the variable of one key. Two secrets that would land on
 * one variable are an error, so nothing is silently overwritten.
 */
export function environmentOf(secrets: Secret[], renames: Map<string, string>): Map<string, string> {
  const vars = new Map<string, string>();
  const from = new Map<string, string>();
  const used = new Set<string>();
  const put = (variable: string, value: string, origin: string) => {
    const earlier = from.get(variable);
    if (earlier !== undefined) {
      throw new CliError(`${origin} and ${earlier} would both set ${variable}; rename one with --env-name NAME=VAR`, EXIT.usage);
    }
    vars.set(variable, value);
    from.set(variable, origin);
  };
  for (const secret of secrets) {
    const renamed = renames.get(secret.name);
    if (renamed !== undefined) used.add(secret.name);
    for (const { key, variable, whole } of envVariables(secret.name, Object.keys(secret.data))) {
      if (whole) {
        put(renamed ?? variable, secret.data[key]!, `secret '${secret.name}'`);
        continue;
      }
      const exact = renames.get(`${secret.name}.${key}`);
      if (exact !== undefined) used.add(`${secret.name}.${key}`);
      put(exact ?? (renamed !== undefined ? `${renamed}_${envName(key)}` : variable), secret.data[key]!, `'${secret.name}.${key}'`);
    }
  }
  for (const name of renames.keys()) {
    if (!used.has(name)) throw new CliError(`--env-name ${name}=…: no secret (or secret key) '${name}' among those read`, EXIT.usage);
  }
  return vars;
}

/** `--env-name NAME=VAR` flags as a map; VAR must be a usable variable name. */
export function parseRenames(flags: string[] | undefined): Map<string, string> {
  const renames = new Map<string, string>();
  for (const flag of flags ?? []) {
    const eq = flag.lastIndexOf("=");
    const name = flag.slice(0, eq);
    const variable = flag.slice(eq + 1);
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      throw new CliError(`--env-name takes NAME=VAR (or NAME.KEY=VAR), VAR a variable name such as DB_URL (got '${flag}')`, EXIT.usage);
    }
    renames.set(name, variable);
  }
  return renames;
}
