/** Server RSS, idle after start and after everything above; runs last. */
import { rssMiB } from "../bench-env.ts";
import type { Scenario } from "../scenario.ts";

const IDLE_GOAL_MIB = 100;
const LOADED_GOAL_MIB = 150;

export const memory: Scenario = {
  title: "memory",
  async run(env) {
    const bare = rssMiB(env.bare.pid);
    const after = rssMiB(env.coffer.pid);
    const mib = (value: number) => `${value.toFixed(0)} MiB`;
    return [
      { scenario: "server RSS, idle", coffer: mib(env.idleRssMiB), bare: mib(bare), share: undefined, goal: `≤ ${IDLE_GOAL_MIB} MiB`, met: env.idleRssMiB <= IDLE_GOAL_MIB, figures: { cofferMiB: env.idleRssMiB, bareMiB: bare } },
      {
        scenario: `server RSS after ${env.secrets} secrets and the bench`,
        coffer: mib(after),
        bare: mib(bare),
        share: undefined,
        goal: `≤ ${LOADED_GOAL_MIB} MiB`,
        met: after <= LOADED_GOAL_MIB,
        figures: { cofferMiB: after, bareMiB: bare },
      },
    ];
  },
};
