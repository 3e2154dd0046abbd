/**
 * The `coffer` command line. Each command lives in its own module and is
 * loaded only when run, so a client command never pays for loading the server.
 */
import { CliError, EXIT, exitCodesHelp } from "./cli-error.ts";

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<void> }> }> = {
  server: { summary: "Run the Coffer server (API on one port)", load: () => import("./commands/server.ts") },
  operator: { summary: "Operator tasks: rotate-key, key-status", load: () => import("./commands/operator.ts") },
};

const HELP = `coffer — secrets for teams and AI agents

Usage: coffer <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`)
  .join("\n")}

Run 'coffer <command> --help' for a command's options.

${exitCodesHelp()}`;

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP + "\n");
    return;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write("coffer 0.1.0\n");
    return;
  }
  const command = COMMANDS[name];
  if (!command) throw new CliError(`unknown command '${name}'; run 'coffer --help'`, EXIT.usage);
  await (await command.load()).run(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CliError) {
    process.stderr.write(`coffer: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`coffer: ${(error as Error).message ?? String(error)}\n`);
    process.exitCode = EXIT.failure;
  }
});
