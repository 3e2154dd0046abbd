/**
 * The server's log lines as JSON (one pino record per line, for collectors)
 * or as text (for a person at a terminal). `coffer server` picks text when
 * stdout is a terminal and JSON otherwise (a file, a pipe, a container's log
 * driver), unless --log-format says which; see docs/operations.md.
 *
 * Text is made from the same records pino writes, so both formats carry the
 * same fields: nothing is logged in one that the other leaves out.
 */
import type { FastifyServerOptions } from "fastify";

export type LogFormat = "text" | "json";

export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/** Fields every record has that a text line shows in its own place, or not at all (pid and hostname). */
const SHOWN_APART = new Set(["level", "time", "msg", "pid", "hostname", "err"]);

/**
 * Both formats write each line as it comes, on stdout, as the start-up
 * banner is: pino's own stdout stream writes later, off the thread, and its
 * "Server listening at" record landed in the middle of the banner. The
 * server logs little (start-up, errors), so a write each costs nothing.
 */
export function loggerOptions(level: string, format: LogFormat, write: (text: string) => void = (text) => process.stdout.write(text)): FastifyServerOptions["logger"] {
  return { level, stream: { write: format === "json" ? write : (line: string) => write(textLine(line)) } };
}

/** One pino JSON record as a text line: `2026-01-02T03:04:05.678Z INFO  message key=value …`, an error's stack below it. */
export function textLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : json + "\n";
  }
  const time = typeof record.time === "number" ? new Date(record.time).toISOString() : "";
  const level = (LEVELS[record.level as number] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record)
    .filter(([key]) => !SHOWN_APART.has(key))
    .flatMap(([key, value]) => flatten(key, value))
    .join(" ");
  let line = [time, level, typeof record.msg === "string" ? record.msg : "", fields].filter(Boolean).join(" ");
  const err = record.err as { type?: string; message?: string; stack?: string } | undefined;
  if (err) {
    const detail = err.stack ?? `${err.type ?? "Error"}: ${err.message ?? ""}`;
    line += detail
      .split("\n")
      .map((text) => "\n    " + text.trimStart())
      .join("");
  }
  return line + "\n";
}

function flatten(key: string, value: unknown): string[] {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([inner, innerValue]) => flatten(`${key}.${inner}`, innerValue));
  }
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return [`${key}=${/[\s"=]/.test(text) || text === "" ? JSON.stringify(text) : text}`];
}
