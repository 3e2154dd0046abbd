/** coffer run: a command with secrets in its environment, and their values masked in its output. */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { constants } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Coffer, Secret, SecretScope } from "@coffer/sdk";
import { parse, usage } from "../args.ts";
import { connect, toCliError } from "../client.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { Masker } from "../mask.ts";
import { environmentOf, folder, parseRenames, readAll, readSecrets } from "../vault.ts";
import { changesBetween, currentVersions, versionsOf, type Versions, type WatchSource } from "../watch.ts";

const HELP = `Usage: coffer run [--secret NAME… | --all] [--env-name NAME=VAR…] [--watch] -- COMMAND [ARGS…]

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

With --watch, coffer checks the versions of the secrets COMMAND uses every
--watch-interval seconds (metadata only, no values). When one changes (a new
version, a rotation, a rollback; with --all also a secret added or removed),
coffer reads the values again, sends COMMAND SIGTERM, waits up to
--watch-grace seconds, then SIGKILL, and starts it again with the new values.
A failed check is reported and retried at the next interval; the running
COMMAND is left alone. coffer exits when COMMAND exits by itself.

Options:
  --secret NAME        a secret to inject (repeat it); a folder's secrets: --all --prefix F
  --all                every secret you can read (--prefix narrows it to a folder)
  --prefix FOLDER      with --all: only secrets under FOLDER
  --env-name NAME=VAR  the variable for secret NAME (for a key/value secret, the
                       prefix: VAR_KEY), or NAME.KEY=VAR for one key; repeatable
  --personal           your personal secrets instead of the workspace's
  --no-mask            leave COMMAND's output alone (and on the terminal)
  --watch              restart COMMAND with the new values when a secret it uses changes
  --watch-interval S   with --watch: seconds between checks (default 10, at least 1)
  --watch-grace S      with --watch: seconds between SIGTERM and SIGKILL on a restart (default 10)

Examples:
  coffer run --secret OPENAI_KEY -- python agent.py
  coffer run --secret database-config --env-name database-config=PG -- ./migrate   # PG_HOST, PG_PASSWORD…
  coffer run --watch --secret OPENAI_KEY -- node server.js`;

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

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
      watch: { type: "boolean" },
      "watch-interval": { type: "string" },
      "watch-grace": { type: "string" },
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
  if (!values.watch && (values["watch-interval"] !== undefined || values["watch-grace"] !== undefined)) {
    throw usage("run", "--watch-interval and --watch-grace go with --watch");
  }
  const intervalMs = seconds("--watch-interval", values["watch-interval"], 10, 1) * 1000;
  const graceMs = seconds("--watch-grace", values["watch-grace"], 10, 0) * 1000;
  const renames = parseRenames(values["env-name"]);

  const { coffer } = connect({ personal: values.personal });
  const scope: SecretScope = values.personal ? "personal" : "shared";
  const source: WatchSource = values.all ? { all: true, prefix: values.prefix ? folder(values.prefix) : undefined } : { names };
  const secrets = await read(coffer, source, scope);
  const injected = environmentOf(secrets, renames);
  const mask = !values["no-mask"];
  // Every value any run of the command was given stays masked, the replaced ones included.
  const masked = new Set(injected.values());

  let child = start(command, injected, masked, mask);
  let stopping = false;
  const forward = (signal: NodeJS.Signals) => {
    stopping = true;
    child.signal(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  try {
    if (values.watch) {
      let versions = versionsOf(secrets);
      for (;;) {
        const changed = await nextChange(child, () => currentVersions(coffer, source, scope), versions, intervalMs);
        if (!changed || stopping) break;
        // Values are read before the command is stopped: if that fails, the command keeps running.
        let fresh: { secrets: Secret[]; env: Map<string, string> };
        try {
          const secrets = await read(coffer, source, scope);
          fresh = { secrets, env: environmentOf(secrets, renames) };
        } catch (error) {
          warn(`could not read the changed secrets, keeping the running command: ${toCliError(error).message}`);
          versions = changed.versions;
          continue;
        }
        warn(`${changed.what.join(", ")}: restarting ${command[0]}`);
        await child.stop(graceMs);
        if (stopping) break;
        for (const value of fresh.env.values()) masked.add(value);
        versions = versionsOf(fresh.secrets);
        child = start(command, fresh.env, masked, mask);
      }
    }
    const [code, signal] = await child.exited;
    process.exitCode = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? EXIT.failure);
  } finally {
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}

function read(coffer: Coffer, source: WatchSource, scope: SecretScope): Promise<Secret[]> {
  return "all" in source ? readAll(coffer, scope, source.prefix) : readSecrets(coffer, source.names, scope);
}

/**
 * Waits until the command exits (null) or a poll finds a version moved. Polls are `intervalMs` apart and
 * never overlap; a failed poll is reported once per distinct failure and tried again at the next interval.
 */
async function nextChange(child: Running, poll: () => Promise<Versions>, versions: Versions, intervalMs: number): Promise<{ versions: Versions; what: string[] } | null> {
  let exited = false;
  const ended = child.exited.then(() => (exited = true));
  let lastFailure = "";
  for (;;) {
    const timer = new AbortController();
    await Promise.race([ended, sleep(intervalMs, undefined, { signal: timer.signal }).catch(() => {})]);
    timer.abort();
    if (exited) return null;
    try {
      const now = await poll();
      lastFailure = "";
      const what = changesBetween(versions, now);
      if (what.length) return { versions: now, what };
    } catch (error) {
      const message = toCliError(error).message;
      if (message !== lastFailure) warn(`could not check the secrets for changes (will retry every ${intervalMs / 1000} s): ${message}`);
      lastFailure = message;
    }
  }
}

interface Running {
  /** Resolves once the command exited and its (masked) output is written out. */
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs` if it is still running; resolves when it is gone. */
  stop(graceMs: number): Promise<void>;
}

function start(command: string[], injected: Map<string, string>, masked: Set<string>, mask: boolean): Running {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [name, value] of injected) env[name] = value;
  const child: ChildProcess = spawn(command[0]!, command.slice(1), { env, stdio: ["inherit", mask ? "pipe" : "inherit", mask ? "pipe" : "inherit"] });
  const piped: Promise<unknown>[] = [];
  if (mask) {
    const masker = new Masker(masked);
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
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          error.code === "ENOENT" ? `command not found: ${command[0]}` : `cannot start ${command[0]}: ${error.message}`,
          error.code === "ENOENT" ? 127 : 126,
        ),
      ),
    );
    child.once("exit", (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
  }).then(async (result) => {
    await Promise.all(piped);
    return result;
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    exited,
    signal: (signal) => {
      if (running()) child.kill(signal);
    },
    async stop(graceMs) {
      if (running()) child.kill("SIGTERM");
      const timer = new AbortController();
      const killed = sleep(graceMs, undefined, { signal: timer.signal }).then(
        () => running() && child.kill("SIGKILL"),
        () => {},
      );
      await exited.catch(() => {});
      timer.abort();
      await killed;
    },
  };
}

function seconds(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || number < min || number > 86_400) throw usage("run", `${flag} takes seconds from ${min} to 86400 (got '${value}')`);
  return number;
}

function warn(message: string): void {
  process.stderr.write(`coffer: ${message}\n`);
}
