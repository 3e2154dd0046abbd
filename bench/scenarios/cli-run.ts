/**
 * The whole wall time of `coffer run` with three secrets (start Node, load the
 * CLI, one batch read, start `true`, wait for it) next to a bare `node -e ''`,
 * alternating, median of RUNS each. One unmeasured run of each first: it
 * fills Node's compile cache, as any earlier use of coffer on the machine has.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { COFFER_BIN, SECRETS_PATH } from "../bench-env.ts";
import type { Scenario } from "../scenario.ts";

const RUNS = 10;
const GOAL_RATIO = 3;

export const cliRun: Scenario = {
  title: "coffer run",
  async run(env) {
    const names = ["bench-cli/a", "bench-cli/b", "bench-cli/c"];
    for (const name of names) await env.api("PUT", `${SECRETS_PATH}/${encodeURIComponent(name)}`, { data: { value: randomBytes(75).toString("base64url") } });
    // No saved login from the machine's user: address and token come from the environment only.
    const childEnv = { ...process.env, COFFER_ADDR: env.coffer.url, COFFER_TOKEN: env.token, COFFER_WORKSPACE: "default", COFFER_CONFIG_DIR: join(env.dataDir, "cli-config") };
    const cli = [COFFER_BIN, "run", ...names.flatMap((name) => ["--secret", name]), "--", "true"];
    const bare = ["-e", ""];
    const time = (args: string[]): number => {
      const start = performance.now();
      const result = spawnSync(process.execPath, args, { env: childEnv, stdio: ["ignore", "ignore", "pipe"], timeout: 30_000 });
      const elapsed = performance.now() - start;
      if (result.status !== 0) throw new Error(`${args.join(" ")} exited ${result.status ?? result.signal}: ${result.stderr}`);
      return elapsed;
    };
    process.stdout.write("coffer run ... ");
    time(cli);
    time(bare);
    const cliTimes: number[] = [];
    const bareTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      bareTimes.push(time(bare));
      cliTimes.push(time(cli));
    }
    const [cliMs, bareMs] = [median(cliTimes), median(bareTimes)];
    console.log(`${cliMs.toFixed(0)} ms`);
    return [
      {
        scenario: "coffer run -- true (bare: node -e '')",
        coffer: `${cliMs.toFixed(0)} ms`,
        bare: `${bareMs.toFixed(0)} ms`,
        share: undefined,
        goal: `≤ ${GOAL_RATIO}× bare`,
        met: cliMs <= GOAL_RATIO * bareMs,
        figures: { cofferMs: cliMs, bareMs },
      },
    ];
  },
};

function median(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
