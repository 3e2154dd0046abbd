/** coffer inject: a template with @{vault.NAME} and @{vault.NAME.KEY} placeholders, rendered. */
import { CofferError, type Secret, type SecretSummary } from "@coffer/sdk";
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { readAllStdin } from "../prompt.ts";
import { readSecrets } from "../vault.ts";

const HELP = `Usage: coffer inject -i TEMPLATE [-o FILE] [--personal]

Renders a template: every @{vault.NAME} becomes the value of secret NAME (a
secret with one key), every @{vault.NAME.KEY} the value of KEY in secret
NAME. All referenced secrets are read in one request. A reference to a
secret or key that does not exist (or that you may not read) is an error
that names it, and nothing is written.

Secret names may themselves contain dots: a reference names the longest
secret that exists, the rest is the key.

Options:
  -i, --in TEMPLATE   the template file (- for stdin)
  -o, --out FILE      write here, created with mode 0600 (written to a temporary
                      file beside it, then renamed); default stdout
  --personal          resolve names among your personal secrets

Example:
  echo 'DATABASE_URL=postgres://app:@{vault.database-config.password}@db/app' > app.env.tpl
  coffer inject -i app.env.tpl -o app.env`;

/** The name and key characters of secret names (and '/' and '.'), inside @{vault.…}. */
const PLACEHOLDER = /@\{vault\.([A-Za-z0-9_.\-/]+)\}/g;

interface Reference {
  text: string;
  name: string;
  key: string | undefined;
}

export async function run(argv: string[]): Promise<void> {
  const parsed = parse("inject", argv, { in: { type: "string", short: "i" }, out: { type: "string", short: "o" }, personal: { type: "boolean" } }, HELP);
  if (!parsed) return;
  positionals("inject", parsed.positionals, []);
  const { values } = parsed;
  if (!values.in) throw usage("inject", "missing -i TEMPLATE");
  const template = values.in === "-" ? await readAllStdin() : readTemplate(values.in);
  const refs = [...new Set([...template.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
  const scope = values.personal ? "personal" : "shared";

  let rendered = template;
  if (refs.length) {
    const { coffer, workspace } = connect({ personal: values.personal });
    const where = `workspace '${workspace}'${values.personal ? " (personal scope)" : ""}`;
    // A dotted reference may be NAME.KEY or a dotted NAME: the list of names (never values) decides.
    const known = refs.some((ref) => ref.includes(".")) ? new Map((await coffer.secrets.list({ scope })).map((s): [string, SecretSummary] => [s.name, s])) : undefined;
    const references = new Map(refs.map((ref) => [ref, resolve(ref, known)]));
    let read: Secret[];
    try {
      read = await readSecrets(coffer, [...new Set([...references.values()].map((r) => r.name))], scope);
    } catch (error) {
      // The server names the first missing secret; the message names the reference that wanted it.
      const missing = error instanceof CofferError && error.code === "SECRET_NOT_FOUND" ? /secret '(.*)' was not found/.exec(error.message)?.[1] : undefined;
      const reference = missing === undefined ? undefined : [...references.values()].find((r) => r.name === missing);
      if (!reference) throw error;
      throw new CliError(`unknown reference @{vault.${reference.text}}: no secret '${reference.name}' in ${where}; nothing was written (SECRET_NOT_FOUND)`, EXIT.notFound);
    }
    const secrets = new Map(read.map((s): [string, Secret] => [s.name, s]));
    const valueOf = (reference: Reference): string => {
      const secret = secrets.get(reference.name);
      if (!secret) throw new CliError(`unknown reference @{vault.${reference.text}}: no secret '${reference.name}' in ${where}; nothing was written`, EXIT.notFound);
      if (reference.key === undefined) {
        const keys = Object.keys(secret.data);
        if (keys.length !== 1) throw new CliError(`@{vault.${reference.text}}: secret '${reference.name}' has several keys (${keys.join(", ")}): name one, @{vault.${reference.name}.KEY}; nothing was written`, EXIT.usage);
        return secret.data[keys[0]!]!;
      }
      if (!Object.hasOwn(secret.data, reference.key)) {
        throw new CliError(`unknown reference @{vault.${reference.text}}: secret '${reference.name}' has no key '${reference.key}' (its keys: ${Object.keys(secret.data).join(", ")}); nothing was written`, EXIT.notFound);
      }
      return secret.data[reference.key]!;
    };
    // Every reference resolves before anything is written.
    const resolved = new Map([...references].map(([ref, reference]) => [ref, valueOf(reference)]));
    rendered = template.replace(PLACEHOLDER, (_, ref: string) => resolved.get(ref)!);
  }

  if (values.out === undefined || values.out === "-") {
    process.stdout.write(rendered);
    return;
  }
  writePrivate(values.out, rendered);
  process.stderr.write(`Wrote ${values.out} (mode 0600, ${refs.length} reference${refs.length === 1 ? "" : "s"}).\n`);
}

/**
 * NAME or NAME.KEY. Without the list (no dot anywhere), the whole reference
 * is a name. With it, the longest existing name wins; a reference matching
 * none is read as NAME.KEY at its last dot, so the error names a secret.
 */
function resolve(text: string, known: Map<string, SecretSummary> | undefined): Reference {
  if (!known || !text.includes(".")) return { text, name: text, key: undefined };
  if (known.has(text)) return { text, name: text, key: undefined };
  for (let dot = text.lastIndexOf("."); dot > 0; dot = text.lastIndexOf(".", dot - 1)) {
    const name = text.slice(0, dot);
    if (known.has(name)) return { text, name, key: text.slice(dot + 1) };
  }
  const dot = text.lastIndexOf(".");
  return { text, name: text.slice(0, dot), key: text.slice(dot + 1) };
}

function readTemplate(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read the template ${path}: ${(error as Error).message}`, EXIT.usage);
  }
}

/** Creates `path` with mode 0600 by way of a new 0600 file beside it, so no reader ever sees it half-written or wider. */
export function writePrivate(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeFileSync(temp, text, { mode: 0o600, flag: "wx" });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new CliError(`cannot write ${path}: ${(error as Error).message}`);
  }
}
