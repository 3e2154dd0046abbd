/** coffer run: a command with secrets in its environment, and their values masked in its output. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { constants } from "node:os";
import { parse, usage } from "../args.ts";
import { connect } from "../client.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { Masker } from "../mask.ts";
import { environmentOf, parseRenames, readAll, readSecrets } from "../vault.ts";

const HELP = `Usage: coffer run [--secret NAME… | --all] [--env-name NAME=VAR…] -- COMMAND [ARGS…]

Starts COMMAND with secrets in its environment, read in one request:
  NAME        for a secret whose only key is 'value'
  NAME_KEY    for each key of a key/value secret
upper-cased, every character outside A-Z 0-9 _ turned into '_'
(payments/stripe-key → PAYMENTS_STRIPE_KEY; database-config.password →
DATABASE_CONFIG_PASSWORD).

COMMAND's stdout and stderr pass through coffer, which masks every injected
value, and its base64 and URL-encoded forms, as '****'. Every non-empty value is
masked, however short: a value 'on' masks every 'on' in the output. Output
that could be the start of a value is held back until the next write decides
it. COMMAND then writes to pipes rather than a terminal (--no-mask keeps the
terminal and does not mask).

Signals (SIGINT, SIGTERM, SIGHUP) are forwarded to COMMAND, and coffer exits
with its exit code, or 128 + the signal number when a signal ended it. Before
COMMAND starts, coffer's own exit codes apply (see 'coffer --help').

Options:
  --secret NAME        a secret to inject (repeat it); a folder's secrets: --all --prefix F
  --all                every secret you can read (--prefix narrows it to a folder)
  --prefix FOLDER      with --all: only secrets under FOLDER
  --env-name NAME=VAR  the variable for secret NAME (for a key/value secret, the
                       prefix: VAR_KEY), or NAME.KEY=VAR for one key; repeatable
  --personal           your personal secrets instead of the workspace's
  --no-mask            leave COMMAND's output alone (and on the terminal)

Examples:
  coffer run --secret OPENAI_KEY -- python agent.py
  coffer run --secret database-config --env-name database-config=PG -- ./migrate   # PG_HOST, PG_PASSWORD…`;

export async function run(argv: string[]): Promise<void> {
  const split = argv.indexOf("--");
  const own = split < 0 ? argv : argv.slice(0, split);
  const command = split < 0 ? [] : argv.slice(split + 1);
  const parsed = parse(
    "run",
    own,
    {
      secret: { type: "string", multiple: true, short: "s" },
      all: { type: "boolean" },
      prefix: { type: "string" },
      "env-name": { type: "string", multiple: true },
      personal: { type: "boolean" },
      "no-mask": { type: "boolean" },
    },
    HELP,
  );
  if (!parsed) return;
  const { values } = parsed;
  if (parsed.positionals.length) throw usage("run", `put the command after '--': coffer run … -- ${parsed.positionals.join(" ")}`);
  if (command.length === 0) throw usage("run", "missing the command: coffer run --secret NAME -- COMMAND");
  const names = values.secret ?? [];
  if (!names.length && !values.all) throw usage("run", "name the secrets with --secret NAME, or give --all");
  if (names.length && values.all) throw usage("run", "give --secret or --all, not both");
  if (values.prefix && !values.all) throw usage("run", "--prefix goes with --all");
  const renames = parseRenames(values["env-name"]);

  const { coffer } = connect({ personal: values.personal });
  const scope = values.personal ? "personal" : "shared";
  const secrets = values.all ? await readAll(coffer, scope, values.prefix) : await readSecrets(coffer, names, scope);
  const injected = environmentOf(secrets, renames);
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [name, value] of injected) env[name] = value;

  const mask = !values["no-mask"];
  const masker = new Masker(injected.values());
  const child = spawn(command[0]!, command.slice(1), { env, stdio: ["inherit", mask ? "pipe" : "inherit", mask ? "pipe" : "inherit"] });
  const forward = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, forward);

  const piped: Promise<unknown>[] = [];
  if (mask) {
    // Written by hand rather than pipe()d: coffer must not exit before the masked tail is out.
    for (const [from, to] of [
      [child.stdout!, process.stdout],
      [child.stderr!, process.stderr],
    ] as const) {
      const stream = masker.stream();
      from.pipe(stream).pipe(to, { end: false });
      // Whoever reads coffer's output went away (EPIPE): drop the output, keep the command running.
      to.on("error", () => {
        stream.unpipe(to);
        stream.resume();
      });
      piped.push(once(stream, "end"));
    }
  }
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          error.code === "ENOENT" ? `command not found: ${command[0]}` : `cannot start ${command[0]}: ${error.message}`,
          error.code === "ENOENT" ? 127 : 126,
        ),
      ),
    );
    child.once("exit", (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
  });
  await Promise.all(piped);
  for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(name, forward);
  process.exitCode = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? EXIT.failure);
}
