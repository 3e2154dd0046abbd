/**
 * coffer operator <command>: keys and the seal. One function per command in
 * TASKS; a new one (backup, restore, …) is one more entry there, one line in
 * HELP, and its own help text.
 */
import type { SealStatus } from "@coffer/sdk";
import { setTimeout as sleep } from "node:timers/promises";
import { dispatch, parse, positionals, usage } from "../args.ts";
import { connect } from "../client.ts";
import { CliError, EXIT } from "../cli-error.ts";
import { printJson } from "../output.ts";
import { askHidden, readAllStdin, stdinIsTty } from "../prompt.ts";

const HELP = `Usage: coffer operator <command> [options]

Commands:
  rotate-key        add a new data key version and re-wrap every stored secret
                    version under it, online; shows progress until done
  key-status        show data key versions and how many secret versions each encrypts
  init              create the root key as Shamir shares (a server started with --seal shamir, once)
  unseal            give one share (hidden prompt) towards unsealing the server
  seal              drop every key from the server's memory until it is unsealed again
  seal-status       whether the server is sealed, and the unseal progress
  rekey             new shares for the same root key, given the current ones
  rotate-root-key   a new root key (re-wraps only the keyring); Shamir: new shares
  backup FILE       an encrypted snapshot of the whole store, taken while the server runs
  restore FILE      load a backup into an empty store (offline; needs the same root key)
  migrate --to URL  move the embedded SQLite store into PostgreSQL (offline), then verify it

Every command takes --addr URL (default: COFFER_ADDR, the address 'coffer login'
saved, or http://127.0.0.1:8200). rotate-key, key-status, seal, rekey and
rotate-root-key need an administrator's full-scope token (COFFER_TOKEN or the
saved session); init, unseal and seal-status need none.

Run 'coffer operator <command> --help' for details and an example.`;

/** The commands; a sibling module's command slots in here. */
const TASKS: Record<string, (argv: string[]) => Promise<void>> = {
  "rotate-key": rotateKey,
  "key-status": keyStatus,
  init,
  unseal,
  seal,
  "seal-status": sealStatus,
  rekey,
  "rotate-root-key": rotateRootKey,
  backup: async (argv) => (await import("./backup.ts")).run(["backup", ...argv]),
  restore: async (argv) => (await import("./backup.ts")).run(["restore", ...argv]),
  migrate: async (argv) => (await import("./migrate.ts")).run(argv),
};

export async function run(argv: string[]): Promise<void> {
  await dispatch("operator", argv, HELP, TASKS);
}

const ADDR = { addr: { type: "string" } } as const;

// ---------------------------------------------------------------- data keys

interface KeyStatus {
  keyVersion: number;
  keys: { version: number; createdAt: string; secretVersions: number }[];
  rewrap: { state: string; targetKeyVersion: number; done: number; total: number; error: string | null };
}

const ROTATE_KEY_HELP = `Usage: coffer operator rotate-key [--no-wait]

Adds a data key version: new writes use it at once, and every stored secret
version is re-wrapped under it in the background while reads keep working.
Follows the progress until done (--no-wait: returns once it started).

Example:
  COFFER_TOKEN=cft_… coffer operator rotate-key`;

async function rotateKey(argv: string[]): Promise<void> {
  const parsed = parse("operator rotate-key", argv, { ...ADDR, "no-wait": { type: "boolean" } }, ROTATE_KEY_HELP);
  if (!parsed) return;
  positionals("operator rotate-key", parsed.positionals, []);
  const { coffer } = connect({ addr: parsed.values.addr });
  let status = await coffer.call<KeyStatus>("rotateKey", {});
  process.stdout.write(`Data key rotated: new writes use key version ${status.keyVersion}.\n`);
  if (parsed.values["no-wait"]) return;
  for (;;) {
    const { state, done, total } = status.rewrap;
    process.stdout.write(`Re-wrapping secret versions under key ${status.rewrap.targetKeyVersion}: ${done}/${total} (${state})\n`);
    if (state === "done" && status.rewrap.targetKeyVersion >= status.keyVersion) break;
    if (state === "failed") throw new CliError(`re-wrap failed: ${status.rewrap.error ?? "see the server log"}`);
    await sleep(500);
    status = await coffer.call<KeyStatus>("keyStatus", {});
  }
  printKeys(status);
}

const KEY_STATUS_HELP = `Usage: coffer operator key-status

Shows the data key versions and how many secret versions each encrypts.

Example:
  coffer operator key-status --addr http://127.0.0.1:8200`;

async function keyStatus(argv: string[]): Promise<void> {
  const parsed = parse("operator key-status", argv, ADDR, KEY_STATUS_HELP);
  if (!parsed) return;
  positionals("operator key-status", parsed.positionals, []);
  const { coffer } = connect({ addr: parsed.values.addr });
  printKeys(await coffer.call<KeyStatus>("keyStatus", {}));
}

function printKeys(status: KeyStatus): void {
  process.stdout.write(`Key version in use: ${status.keyVersion}\n`);
  for (const key of status.keys) {
    process.stdout.write(`  key ${String(key.version).padStart(3)}  created ${key.createdAt}  encrypts ${key.secretVersions} secret version(s)\n`);
  }
}

// ---------------------------------------------------------------- the seal

const SPLIT = { shares: { type: "string" }, threshold: { type: "string" } } as const;

const INIT_HELP = `Usage: coffer operator init --shares N --threshold K [--json]

Initialises a server started with --seal shamir, once: creates the root key,
splits it into N shares of which any K unseal the server (2 ≤ K ≤ N ≤ 255),
and prints the shares and the admin bootstrap token. They are shown ONCE:
the server keeps none of them. Give each share to a different person. The
server stays sealed until K shares are given with 'coffer operator unseal'.

Example:
  coffer operator init --shares 5 --threshold 3`;

async function init(argv: string[]): Promise<void> {
  const parsed = parse("operator init", argv, { ...ADDR, ...SPLIT, json: { type: "boolean" } }, INIT_HELP);
  if (!parsed) return;
  positionals("operator init", parsed.positionals, []);
  const split = splitOf("operator init", parsed.values, true);
  const { coffer } = connect({ addr: parsed.values.addr, anonymous: true });
  const result = await coffer.sys.init(split.shares!, split.threshold!);
  if (parsed.values.json) return printJson(result);
  const out = process.stdout;
  out.write(`Initialised. The root key is split into ${result.shares.length} shares; any ${result.threshold} unseal the server.\n\n`);
  printShares(result.shares);
  out.write(`  Admin bootstrap token: ${result.bootstrapToken}\n\n`);
  out.write("The shares and the token are shown ONCE, never again: Coffer keeps none of them.\n");
  out.write("Give each share to a different person, and keep the token safe (export COFFER_TOKEN=<token>).\n");
  out.write(`The server is sealed: unseal it with ${result.threshold} shares ('coffer operator unseal', once per share).\n`);
}

const UNSEAL_HELP = `Usage: coffer operator unseal [--reset]

Gives one share towards unsealing the server, typed at a hidden prompt (never
an argument: argv is visible to other users). Each key holder runs it once;
the server unseals when it has the threshold. When stdin is not a terminal,
every line of it is a share, given in turn until the server is unsealed.

A mistyped share or a share given twice is refused and the progress is kept;
when the shares together do not rebuild the root key, one was wrong and the
progress starts over. --reset discards the shares given so far.

Example:
  coffer operator unseal --addr https://coffer.internal:8200`;

async function unseal(argv: string[]): Promise<void> {
  const parsed = parse("operator unseal", argv, { ...ADDR, reset: { type: "boolean" } }, UNSEAL_HELP);
  if (!parsed) return;
  positionals("operator unseal", parsed.positionals, []);
  const { coffer } = connect({ addr: parsed.values.addr, anonymous: true });
  if (parsed.values.reset) {
    const status = await coffer.sys.resetUnseal();
    process.stderr.write("Discarded the shares given so far.\n");
    return printSeal(status);
  }
  let status = await coffer.sys.sealStatus();
  if (!status.sealed) return printSeal(status);
  if (!status.initialized) throw new CliError("the server is not initialised: run 'coffer operator init --shares N --threshold K' first", EXIT.usage);
  if (stdinIsTty()) {
    status = await coffer.sys.unseal(await askHidden(`Unseal share (${status.progress + 1} of ${status.threshold}): `));
  } else {
    for (const share of lines(await readAllStdin())) {
      status = await coffer.sys.unseal(share);
      if (!status.sealed) break;
    }
  }
  printSeal(status);
}

const SEAL_HELP = `Usage: coffer operator seal

Seals the server node at --addr: it drops every key and decrypted value from
memory and answers SEALED until K shares unseal it again. Each node of a
cluster is sealed on its own. Only a Shamir-sealed server can be sealed.

Example:
  COFFER_TOKEN=cft_… coffer operator seal`;

async function seal(argv: string[]): Promise<void> {
  const parsed = parse("operator seal", argv, ADDR, SEAL_HELP);
  if (!parsed) return;
  positionals("operator seal", parsed.positionals, []);
  const { coffer } = connect({ addr: parsed.values.addr });
  await coffer.sys.seal();
  process.stdout.write("Sealed: every key is gone from the server's memory until it is unsealed.\n");
}

const SEAL_STATUS_HELP = `Usage: coffer operator seal-status [--json]

Shows whether the server is sealed, where its root key comes from, and how
many shares it has of how many it needs.

Example:
  coffer operator seal-status --json`;

async function sealStatus(argv: string[]): Promise<void> {
  const parsed = parse("operator seal-status", argv, { ...ADDR, json: { type: "boolean" } }, SEAL_STATUS_HELP);
  if (!parsed) return;
  positionals("operator seal-status", parsed.positionals, []);
  const { coffer } = connect({ addr: parsed.values.addr, anonymous: true });
  const status = await coffer.sys.sealStatus();
  if (parsed.values.json) return printJson(status);
  printSeal(status);
}

const REKEY_HELP = `Usage: coffer operator rekey --shares N --threshold K

New shares for the same root key: asks for the threshold of CURRENT shares
(hidden prompts; one line each when stdin is not a terminal), then prints N
new shares of which any K unseal. The old shares stop working. Nothing
encrypted changes. The new shares are shown ONCE.

Example:
  COFFER_TOKEN=cft_… coffer operator rekey --shares 5 --threshold 3`;

async function rekey(argv: string[]): Promise<void> {
  const parsed = parse("operator rekey", argv, { ...ADDR, ...SPLIT }, REKEY_HELP);
  if (!parsed) return;
  positionals("operator rekey", parsed.positionals, []);
  const split = splitOf("operator rekey", parsed.values, true);
  const { coffer } = connect({ addr: parsed.values.addr });
  const currentShares = await askCurrentShares(await coffer.sys.sealStatus());
  const result = await coffer.sys.rekey(split.shares!, split.threshold!, currentShares);
  process.stdout.write(`Rekeyed: ${result.shares.length} new shares; any ${result.threshold} unseal. The old shares no longer work.\n\n`);
  printShares(result.shares);
  process.stdout.write("The new shares are shown ONCE, never again. Give each to a different person.\n");
}

const ROTATE_ROOT_KEY_HELP = `Usage: coffer operator rotate-root-key [--shares N --threshold K]

Replaces the root key and re-wraps the keyring under it (secrets are not
re-encrypted). With Shamir shares: asks for the threshold of current shares
(hidden prompts), prints the new key's shares (shown ONCE; --shares and
--threshold change the split), and other nodes seal until unsealed with them.
With the key file: rewrites it in place (0600, atomically). With
COFFER_ROOT_KEY the server cannot change the variable: it explains how.

Example:
  COFFER_TOKEN=cft_… coffer operator rotate-root-key`;

async function rotateRootKey(argv: string[]): Promise<void> {
  const parsed = parse("operator rotate-root-key", argv, { ...ADDR, ...SPLIT }, ROTATE_ROOT_KEY_HELP);
  if (!parsed) return;
  positionals("operator rotate-root-key", parsed.positionals, []);
  const split = splitOf("operator rotate-root-key", parsed.values, false);
  const { coffer } = connect({ addr: parsed.values.addr });
  const status = await coffer.sys.sealStatus();
  if (status.type !== "shamir") {
    if (split.shares !== undefined || split.threshold !== undefined) throw usage("operator rotate-root-key", "--shares and --threshold are for Shamir shares");
    await coffer.sys.rotateRootKey();
    process.stdout.write("Root key rotated: the key file holds the new key, and the keyring is wrapped under it.\n");
    return;
  }
  const currentShares = await askCurrentShares(status);
  const result = await coffer.sys.rotateRootKey({ currentShares, ...split });
  process.stdout.write(`Root key rotated: the keyring is wrapped under a new root key, split into ${result.shares!.length} shares; any ${result.threshold} unseal.\n`);
  process.stdout.write("The old shares no longer work. Other server nodes seal themselves: unseal them with the new shares.\n\n");
  printShares(result.shares!);
  process.stdout.write("The new shares are shown ONCE, never again. Give each to a different person.\n");
}

// ---------------------------------------------------------------- helpers

function splitOf(command: string, values: { shares?: string; threshold?: string }, required: boolean): { shares?: number; threshold?: number } {
  const count = (name: "shares" | "threshold"): number | undefined => {
    const text = values[name];
    if (text === undefined) {
      if (required) throw usage(command, `--${name} is required`);
      return undefined;
    }
    if (!/^\d{1,3}$/.test(text)) throw usage(command, `--${name} takes a whole number`);
    return Number(text);
  };
  const split = { shares: count("shares"), threshold: count("threshold") };
  return Object.fromEntries(Object.entries(split).filter(([, value]) => value !== undefined));
}

async function askCurrentShares(status: SealStatus): Promise<string[]> {
  if (status.type !== "shamir") throw new CliError(`this server's root key comes from the ${status.type === "file" ? "key file" : "COFFER_ROOT_KEY variable"}: it has no shares`, EXIT.usage);
  if (!stdinIsTty()) {
    const shares = lines(await readAllStdin());
    if (shares.length < status.threshold) throw new CliError(`give ${status.threshold} current shares on stdin, one per line (got ${shares.length})`, EXIT.usage);
    return shares;
  }
  const shares: string[] = [];
  for (let i = 1; i <= status.threshold; i++) shares.push(await askHidden(`Current share ${i} of ${status.threshold}: `));
  return shares;
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

function printShares(shares: string[]): void {
  shares.forEach((share, i) => process.stdout.write(`  Share ${i + 1}: ${share}\n`));
  process.stdout.write("\n");
}

function printSeal(status: SealStatus): void {
  const source = { shamir: "Shamir shares", file: "key file", env: "COFFER_ROOT_KEY" }[status.type];
  if (!status.initialized) {
    process.stdout.write(`Sealed, not initialised (root key: ${source}): run 'coffer operator init --shares N --threshold K'.\n`);
  } else if (status.sealed) {
    process.stdout.write(`Sealed (root key: ${source}): ${status.progress} of ${status.threshold} shares given.\n`);
  } else {
    process.stdout.write(`Unsealed (root key: ${source}${status.type === "shamir" ? `, ${status.threshold} of ${status.shares} shares unseal` : ""}).\n`);
  }
}
