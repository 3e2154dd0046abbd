/** How long the server takes to listen, on a store holding every seeded secret. */
import type { Scenario } from "../scenario.ts";

export const startup: Scenario = {
  title: "startup",
  async run(env) {
    return [
      {
        scenario: `startup with ${env.secrets} secrets (bare: bare Fastify)`,
        coffer: `${Math.round(env.coffer.startupMs)} ms`,
        bare: `${Math.round(env.bare.startupMs)} ms`,
        share: undefined,
        goal: "-",
        met: undefined,
        figures: { cofferMs: env.coffer.startupMs, bareMs: env.bare.startupMs },
      },
    ];
  },
};
