/**
 * A bench scenario: a module that measures something and returns rows of the
 * one table `npm run bench` prints. To add one, write a module exporting a
 * `Scenario` and add it to the list in scenarios.ts.
 */
import type { Options } from "autocannon";
import { compare, type BenchEnv, type Side } from "./bench-env.ts";

export interface Row {
  scenario: string;
  /** Coffer's figure and the baseline's, as shown. */
  coffer: string;
  bare: string;
  /** Coffer as a percentage of the baseline, where that is the measure. */
  share: number | undefined;
  goal: string;
  /** undefined: no goal, only a figure. */
  met: boolean | undefined;
  /** The raw figures, for bench/results/*.json. */
  figures: Record<string, number | undefined>;
}

export interface Scenario {
  /** What it measures, for the progress line. */
  title: string;
  run(env: BenchEnv): Promise<Row[]>;
}

export interface Target {
  options: Options;
  pid: number;
}

/**
 * Coffer's route against a baseline route, interleaved; the goal is a
 * minimum share of the baseline's req/s and, optionally, a p99 within a
 * factor of the baseline's.
 */
export async function throughputRow(env: BenchEnv, scenario: string, coffer: Target, baseline: Target, goal: { share: number; p99Factor?: number }): Promise<Row> {
  const { a, b } = await compare(env, scenario, coffer, baseline);
  const share = (a.rps / b.rps) * 100;
  const p99Met = goal.p99Factor === undefined || a.p99 <= goal.p99Factor * Math.max(1, b.p99);
  return {
    scenario,
    coffer: rate(a),
    bare: rate(b),
    share,
    goal: `≥ ${goal.share}%${goal.p99Factor === undefined ? "" : `, p99 ≤ ${goal.p99Factor}× bare`}`,
    met: share >= goal.share && p99Met,
    figures: figuresOf("coffer", a, figuresOf("baseline", b, {})),
  };
}

/** "17.7k req/s, p99 10 ms, 39 µs CPU": with the server's CPU per request, where /proc tells it. */
export function rate(side: Side): string {
  const rps = side.rps >= 10_000 ? `${(side.rps / 1000).toFixed(1)}k` : Math.round(side.rps).toString();
  const cpu = side.cpuMicros === undefined ? "" : `, ${Math.round(side.cpuMicros)} µs CPU`;
  return `${rps} req/s, p99 ${side.p99} ms${cpu}`;
}

function figuresOf(prefix: string, side: Side, into: Record<string, number | undefined>): Record<string, number | undefined> {
  into[`${prefix}Rps`] = side.rps;
  into[`${prefix}P99Ms`] = side.p99;
  into[`${prefix}MeanMs`] = side.meanMs;
  into[`${prefix}CpuMicros`] = side.cpuMicros;
  return into;
}

/** The size in bytes of a GET response, so the bare route can answer as many. */
export async function responseBytes(env: BenchEnv, path: string, token = env.token): Promise<number> {
  const response = await fetch(new URL(path, env.coffer.url), { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return Buffer.byteLength(await response.text());
}

/** The bare route answering `bytes` bytes. */
export function bareRoute(env: BenchEnv, bytes: number, method: "GET" | "PUT" = "GET", body?: string): Target {
  const options: Options = { url: `${env.bare.url}/bare/${bytes}`, method, ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }) };
  return { options, pid: env.bare.pid };
}
