/**
 * The relay: requests through a base-URL route of Coffer (token check,
 * policy checks, the value put in, the answer redacted, one audit event per
 * call) to a local upstream, against the same requests sent straight to it;
 * the same against a proxy that does none of that work (bench/minimal-proxy.ts),
 * the ceiling any relay reaches on this machine; and the time a relayed
 * stream adds before its first byte.
 */
import http from "node:http";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { compare, SECRETS_PATH, startChild, type BenchEnv } from "../bench-env.ts";
import { rate, throughputRow, type Row, type Scenario, type Target } from "../scenario.ts";

const SECRET = "bench-relay/api-key";
const ROUTE = "bench-upstream";
/** The answer's size: a small JSON reply, as an API's. */
const BYTES = 512;
const TTFB_SAMPLES = 400;
const TTFB_GOAL_MS = 2;
const MINIMAL_PROXY = fileURLToPath(new URL("../minimal-proxy.ts", import.meta.url));

export const relay: Scenario = {
  title: "relay",
  async run(env) {
    const upstream = new URL(env.bare.url);
    await env.api("PUT", `${SECRETS_PATH}/${encodeURIComponent(SECRET)}`, { data: { value: `sk-bench-${randomBytes(24).toString("base64url")}` } });
    await env.api("PATCH", `${SECRETS_PATH}/${encodeURIComponent(SECRET)}/metadata`, {
      relayPolicy: { hosts: [upstream.hostname], schemes: ["http"], ports: [Number(upstream.port)], headers: ["Authorization"], addresses: [upstream.hostname] },
    });
    await env.api("PUT", `/api/v1/workspaces/default/relay-routes/${ROUTE}`, { target: env.bare.url, headers: { Authorization: `Bearer @{vault.${SECRET}}` } });
    const base = `${env.coffer.url}/relay/default/${ROUTE}`;
    const relayed = { options: { url: `${base}/bare/${BYTES}`, headers: { authorization: `Bearer ${env.token}` } }, pid: env.coffer.pid };
    const direct: Target = { options: { url: `${env.bare.url}/bare/${BYTES}` }, pid: env.bare.pid };
    const throughput = await throughputRow(env, "relay through a route (bare: the upstream direct)", relayed, direct, { share: 50 });
    return [throughput, await ceilingRow(env, direct), await firstByteRow(env, `${base}/stream`, `${env.bare.url}/stream`)];
  },
};

/** The same requests through a proxy that does no work of Coffer's: no goal, the figure the relay's share is read against. */
async function ceilingRow(env: BenchEnv, direct: Target): Promise<Row> {
  const proxy = await startChild("minimal proxy", [MINIMAL_PROXY, env.bare.url]);
  try {
    const proxied = { options: { url: `${proxy.url}/relay/default/${ROUTE}/bare/${BYTES}` }, pid: proxy.pid };
    const { a, b } = await compare(env, "relay's ceiling: a minimal proxy, no checks (bare: the upstream direct)", proxied, direct);
    return {
      scenario: "relay's ceiling: a minimal proxy, no checks (bare: the upstream direct)",
      coffer: rate(a),
      bare: rate(b),
      share: (a.rps / b.rps) * 100,
      goal: "none: the most any relay gets here",
      met: undefined,
      figures: { proxyRps: a.rps, proxyP99Ms: a.p99, proxyCpuMicros: a.cpuMicros, directRps: b.rps, directP99Ms: b.p99, directCpuMicros: b.cpuMicros },
    };
  } finally {
    await proxy.stop();
  }
}

/** Time to the first byte of a server-sent-event stream, relayed and direct, alternating; the medians' difference. */
async function firstByteRow(env: BenchEnv, relayedUrl: string, directUrl: string): Promise<Row> {
  process.stdout.write("relay: added time to a stream's first byte ... ");
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const auth = { authorization: `Bearer ${env.token}` };
  const relayed: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < 20; i++) {
    await firstByte(directUrl, {}, agent);
    await firstByte(relayedUrl, auth, agent);
  }
  for (let i = 0; i < TTFB_SAMPLES; i++) {
    direct.push(await firstByte(directUrl, {}, agent));
    relayed.push(await firstByte(relayedUrl, auth, agent));
  }
  agent.destroy();
  const a = median(relayed);
  const b = median(direct);
  const added = a - b;
  console.log(`${a.toFixed(2)} vs ${b.toFixed(2)} ms`);
  return {
    scenario: "relay: time to a stream's first byte (p50)",
    coffer: `${a.toFixed(2)} ms`,
    bare: `${b.toFixed(2)} ms`,
    share: undefined,
    goal: `adds ≤ ${TTFB_GOAL_MS} ms (adds ${added.toFixed(2)})`,
    met: added <= TTFB_GOAL_MS,
    figures: { relayedTtfbMs: a, directTtfbMs: b, addedTtfbMs: added, relayedTtfbP99Ms: percentile(relayed, 0.99), directTtfbP99Ms: percentile(direct, 0.99) },
  };
}

/** Milliseconds from sending a GET to the first byte of its body; the rest is read and dropped. */
function firstByte(url: string, headers: Record<string, string>, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let first: number | undefined;
    const request = http.get(url, { headers, agent }, (response) => {
      if (response.statusCode !== 200) reject(new Error(`GET ${url}: ${response.statusCode}`));
      response.on("data", () => (first ??= performance.now() - start));
      response.on("end", () => (first === undefined ? reject(new Error(`GET ${url}: an empty stream`)) : resolve(first)));
    });
    request.on("error", reject);
  });
}

function median(values: number[]): number {
  return percentile(values, 0.5);
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
