/** Argument parsing for every command: node:util's parseArgs, with usage errors that point at --help. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError, EXIT } from "./cli-error.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed<O extends Options> {
  values: { [K in keyof O]?: O[K] extends { multiple: true } ? (O[K] extends { type: "boolean" } ? boolean[] : string[]) : O[K] extends { type: "boolean" } ? boolean : string };
  positionals: string[];
}

/**
 * Parses `argv` strictly. Returns null when --help was asked for (the help
 * was printed). `command` names the command in messages ("secrets set").
 */
export function parse<O extends Options>(command: string, argv: string[], options: O, help: string): Parsed<O> | null {
  let result;
  try {
    result = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message.replace(/\.$/, "")}; run 'coffer ${command} --help'`, EXIT.usage);
  }
  if ((result.values as { help?: boolean }).help) {
    process.stdout.write(help.trimEnd() + "\n");
    return null;
  }
  return result as unknown as Parsed<O>;
}

export function usage(command: string, message: string): CliError {
  return new CliError(`${message}; run 'coffer ${command} --help'`, EXIT.usage);
}

/** Exactly `count` positionals, named in the message when one is missing or extra. */
export function positionals(command: string, given: string[], names: string[], optional: string[] = []): string[] {
  if (given.length < names.length) throw usage(command, `missing ${names.slice(given.length).join(" ")}`);
  if (given.length > names.length + optional.length) throw usage(command, `unexpected argument '${given[names.length + optional.length]}'`);
  return given;
}

/**
 * A command group (`coffer secrets …`): picks the subcommand, or prints the
 * group's help. Subcommands get the rest of argv.
 */
export async function dispatch(group: string, argv: string[], help: string, subcommands: Record<string, (argv: string[]) => Promise<void>>, aliases: Record<string, string> = {}): Promise<void> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    process.stdout.write(help.trimEnd() + "\n");
    if (first === undefined) process.exitCode = EXIT.usage;
    return;
  }
  const name = aliases[first] ?? first;
  const run = Object.hasOwn(subcommands, name) ? subcommands[name] : undefined;
  if (!run) throw new CliError(`unknown command 'coffer ${group} ${first}'; run 'coffer ${group} --help'`, EXIT.usage);
  await run(rest);
}
