/**
 * Server RSS, idle after start and after everything above; runs last. Both
 * are taken with the server idle, as an operator's dashboard sees it between
 * bursts: the loaded figure after the same settling the server's idle-memory
 * reduction needs (core/idle-memory.ts: a collection once idle, then V8's
 * memory reducer within ~8 s). The RSS at the end of the load is shown too.
 * The server starts with Node's compile cache warm (run.ts starts another
 * first): the first start after an install or upgrade strips the TypeScript
 * and keeps the stripper loaded, 11-15 MiB more for that process's life.
 */
import { rssMiB } from "../bench-env.ts";
import type { Scenario } from "../scenario.ts";

const IDLE_GOAL_MIB = 100;
const LOADED_GOAL_MIB = 150;
const SETTLE_MS = 10_000;

export const memory: Scenario = {
  title: "memory",
  async run(env) {
    const bare = rssMiB(env.bare.pid);
    const atEndOfLoad = rssMiB(env.coffer.pid);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const after = rssMiB(env.coffer.pid);
    const mib = (value: number) => `${value.toFixed(0)} MiB`;
    return [
      { scenario: "server RSS, idle", coffer: mib(env.idleRssMiB), bare: mib(bare), share: undefined, goal: `≤ ${IDLE_GOAL_MIB} MiB`, met: env.idleRssMiB <= IDLE_GOAL_MIB, figures: { cofferMiB: env.idleRssMiB, bareMiB: bare } },
      {
        scenario: `server RSS after ${env.secrets} secrets and the bench, idle ${SETTLE_MS / 1000} s`,
        coffer: `${mib(after)} (${mib(atEndOfLoad)} at the load's end)`,
        bare: mib(bare),
        share: undefined,
        goal: `≤ ${LOADED_GOAL_MIB} MiB`,
        met: after <= LOADED_GOAL_MIB,
        figures: { cofferMiB: after, cofferAtEndOfLoadMiB: atEndOfLoad, bareMiB: bare },
      },
    ];
  },
};
