/** How `coffer run` names a secret's values as environment variables: shared by the CLI and the web UI's snippets. */

/** An environment variable name: upper-cased, every character outside [A-Z0-9_] becomes `_`, never starting with a digit. */
export function envName(...parts: string[]): string {
  const name = parts.join("_").toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** One variable `coffer run` sets for a secret; `whole` when it holds the secret's only value (its one key is `value`). */
export interface EnvVariable {
  key: string;
  variable: string;
  whole: boolean;
}

/** The variables `coffer run` sets for a secret without `--env-name`: `NAME` for a secret whose only key is `value`, `NAME_KEY` for each key of others. */
export function envVariables(name: string, keys: readonly string[]): EnvVariable[] {
  if (keys.length === 1 && keys[0] === "value") return [{ key: "value", variable: envName(name), whole: true }];
  return keys.map((key) => ({ key, variable: envName(name, key), whole: false }));
}
