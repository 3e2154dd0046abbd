/** Exit codes are part of the CLI's contract; `coffer --help` lists them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unauthenticated: 3,
  denied: 4,
  notFound: 5,
  conflict: 6,
  unavailable: 7,
  /** 128 + SIGPIPE, as a command ended by a closed pipe reports. */
  closedPipe: 141,
} as const;

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failure) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function exitCodesHelp(): string {
  return `Exit codes:
  0 success          1 failure            2 bad usage or invalid input
  3 not logged in    4 access denied      5 not found
  6 conflict         7 server unavailable or sealed
  130 cancelled at a prompt    141 the output's reader stopped reading (| head)
  coffer run: the command's own exit code (128 + N when signal N ended it;
  127 command not found); the codes above only when coffer fails before it starts.`;
}
