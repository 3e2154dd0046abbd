/**
 * Vault's durations, one parser for every field that takes one (ttl,
 * explicit_max_ttl, period, increment, delete_version_after): a whole
 * number of seconds (as a number or a string), or a Go duration such as
 * "3h10m", "768h", "1.5h", "90s" (Go's units ns, us, µs, ms, s, m, h, and
 * the "d" Vault's parseutil adds). Printed back as Go prints them.
 */
import { invalid } from "../../core/errors.ts";

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)/gy;

/** Seconds, rounded down as Vault's ParseDurationSecond does. */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === "string") {
    if (/^\d+$/.test(value)) return Number(value);
    PART.lastIndex = 0;
    let seconds = 0;
    let end = 0;
    for (let match = PART.exec(value); match !== null; match = PART.exec(value)) {
      seconds += Number(match[1]) * UNIT_SECONDS[match[2]!]!;
      end = PART.lastIndex;
    }
    if (end > 0 && end === value.length) return Math.floor(seconds + 1e-9);
  }
  throw invalid(`${field} is a duration: seconds, or such as "30s", "3h10m" or "768h"`);
}

/** Seconds as Go prints a duration: "0s", "1m30s", "768h0m0s". */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}
