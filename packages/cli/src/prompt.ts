/**
 * Reading what a user types: visible lines, and hidden input like getpass
 * (raw mode on a terminal, nothing echoed). When stdin is not a terminal, a
 * prompt reads one line of it instead, so scripts can pipe answers in.
 * Prompts go to stderr, so stdout stays clean for a command's output.
 */
import { CliError, EXIT } from "./cli-error.ts";

export function stdinIsTty(): boolean {
  return process.stdin.isTTY === true;
}

/** Lines of a non-terminal stdin, read as they arrive and shared by consecutive prompts. */
let pending = "";
let ended = false;

function readLine(): Promise<string | null> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    const take = (): boolean => {
      const newline = pending.indexOf("\n");
      if (newline >= 0) {
        const line = pending.slice(0, newline).replace(/\r$/, "");
        pending = pending.slice(newline + 1);
        finish(line);
        return true;
      }
      if (ended) {
        const line = pending.length ? pending : null;
        pending = "";
        finish(line);
        return true;
      }
      return false;
    };
    const onData = (chunk: Buffer | string) => {
      pending += chunk.toString();
      take();
    };
    const onEnd = () => {
      ended = true;
      take();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.off("error", onError);
      stdin.pause();
    };
    const finish = (line: string | null) => {
      cleanup();
      resolve(line);
    };
    if (take()) return;
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.on("error", onError);
    stdin.resume();
  });
}

/** Everything on stdin (for values piped in), without the one newline `echo` adds. */
export async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [Buffer.from(pending)];
  pending = "";
  if (!ended) {
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    ended = true;
  }
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

/** A visible answer (a username). */
export async function ask(question: string): Promise<string> {
  // A script piping answers in has no use for the questions.
  if (stdinIsTty()) process.stderr.write(question);
  const line = await readLine();
  if (line === null) throw new CliError(`no answer to '${question.trim()}': stdin ended`, EXIT.usage);
  return line.trim();
}

/** A hidden answer (a password or a secret value): on a terminal nothing is echoed. */
export async function askHidden(question: string): Promise<string> {
  if (!stdinIsTty()) {
    const line = await readLine();
    if (line === null) throw new CliError(`no value for '${question.trim()}': stdin ended`, EXIT.usage);
    return line;
  }
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let answer = "";
    // Raw mode (no echo) before the question appears, so nothing typed after it is echoed.
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    process.stderr.write(question);
    const done = (error?: CliError) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (chunk: string) => {
      // Raw mode delivers keys, and a paste arrives as one chunk: handle each character.
      for (const char of chunk) {
        switch (char) {
          case "\r":
          case "\n":
            return done();
          case "\u0003": // Ctrl-C
            done(new CliError("cancelled", 130));
            return;
          case "\u0004": // Ctrl-D
            if (answer === "") return done(new CliError("cancelled", 130));
            return done();
          case "\u007f": // Backspace (DEL) and Ctrl-H
          case "\b":
            answer = Array.from(answer).slice(0, -1).join("");
            break;
          case "\u0015": // Ctrl-U: erase the line
            answer = "";
            break;
          default:
            if (char >= " ") answer += char;
        }
      }
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}

/** A new password, asked twice on a terminal. */
export async function askNewPassword(question: string): Promise<string> {
  const first = await askHidden(question);
  if (!first) throw new CliError("the password is empty", EXIT.usage);
  if (stdinIsTty() && (await askHidden("Repeat it: ")) !== first) throw new CliError("the passwords differ", EXIT.usage);
  return first;
}
