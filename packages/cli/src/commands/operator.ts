import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { connect } from "../client.ts";
import { CliError, EXIT } from "../cli-error.ts";

const HELP = `Usage: coffer operator <task> [options]

Tasks:
  rotate-key     add a new data key version and re-wrap every stored secret
                 version under it, online; shows progress until done
  key-status     show data key versions and how many secret versions each encrypts

Options:
  --addr URL     server address (default: COFFER_ADDR, the one 'coffer login' saved, or http://127.0.0.1:8200)
  --no-wait      rotate-key: return once the rotation started
  -h, --help     show this help

The token (COFFER_TOKEN, or the session 'coffer login' saved) must be an
administrator's, with full scope.

Example:
  COFFER_TOKEN=cft_… coffer operator rotate-key`;

interface KeyStatus {
  keyVersion: number;
  keys: { version: number; createdAt: string; secretVersions: number }[];
  rewrap: { state: string; targetKeyVersion: number; done: number; total: number; error: string | null };
}

export async function run(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { addr: { type: "string" }, "no-wait": { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message}; run 'coffer operator --help'`, EXIT.usage);
  }
  const { values, positionals } = parsed;
  const [task] = positionals;
  if (values.help || !task) {
    process.stdout.write(HELP + "\n");
    if (!task && !values.help) process.exitCode = EXIT.usage;
    return;
  }
  if (task !== "rotate-key" && task !== "key-status") throw new CliError(`unknown operator task '${task}'; run 'coffer operator --help'`, EXIT.usage);
  const { coffer } = connect({ addr: values.addr });
  switch (task) {
    case "rotate-key": {
      let status = await coffer.call<KeyStatus>("rotateKey", {});
      process.stdout.write(`Data key rotated: new writes use key version ${status.keyVersion}.\n`);
      if (values["no-wait"]) return;
      for (;;) {
        const { state, done, total } = status.rewrap;
        process.stdout.write(`Re-wrapping secret versions under key ${status.rewrap.targetKeyVersion}: ${done}/${total} (${state})\n`);
        if (state === "done" && status.rewrap.targetKeyVersion >= status.keyVersion) break;
        if (state === "failed") throw new CliError(`re-wrap failed: ${status.rewrap.error ?? "see the server log"}`);
        await sleep(500);
        status = await coffer.call<KeyStatus>("keyStatus", {});
      }
      printKeys(status);
      return;
    }
    case "key-status":
    default:
      printKeys(await coffer.call<KeyStatus>("keyStatus", {}));
      return;
  }
}

function printKeys(status: KeyStatus): void {
  process.stdout.write(`Key version in use: ${status.keyVersion}\n`);
  for (const key of status.keys) {
    process.stdout.write(`  key ${String(key.version).padStart(3)}  created ${key.createdAt}  encrypts ${key.secretVersions} secret version(s)\n`);
  }
}
