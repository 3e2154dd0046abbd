/** Lists: a page of 100, a page deep into a large workspace, and a name search. */
import { SECRETS_PATH, timeCalls } from "../bench-env.ts";
import { bareRoute, responseBytes, throughputRow, type Scenario } from "../scenario.ts";
import { deepName, DEEP_PREFIX, LIST_PREFIX } from "../seed.ts";

const SEARCH_CALLS = 50;
const SEARCH_GOAL_MS = 20;

export const lists: Scenario = {
  title: "lists",
  async run(env) {
    const auth = { authorization: `Bearer ${env.token}` };
    const target = (path: string) => ({ options: { url: env.coffer.url + path, headers: auth }, pid: env.coffer.pid });
    const page = `${SECRETS_PATH}?limit=100&prefix=${encodeURIComponent(LIST_PREFIX)}`;
    const deepCount = env.deepSecrets;
    const first = `${SECRETS_PATH}?limit=100&prefix=${encodeURIComponent(DEEP_PREFIX)}`;
    const deep = `${first}&cursor=${encodeURIComponent(deepName(deepCount - 200))}`;
    const rows = [
      await throughputRow(env, "list 100 secrets", target(page), bareRoute(env, await responseBytes(env, page)), { share: 50 }),
      await throughputRow(env, `list page deep in ${deepCount} secrets (bare: first page)`, target(deep), target(first), { share: 50 }),
    ];
    // A substring that matches a handful of names, so the time is the search's, not the page's.
    const search = `${SECRETS_PATH}?limit=100&search=${encodeURIComponent("s-0004")}`;
    process.stdout.write(`search ... `);
    const timing = await timeCalls(SEARCH_CALLS, () => env.api("GET", search));
    console.log(`p50 ${timing.p50.toFixed(1)} ms`);
    rows.push({
      scenario: `search names of ${env.workspaceSecrets} secrets (one at a time)`,
      coffer: `p50 ${timing.p50.toFixed(1)} ms, p99 ${timing.p99.toFixed(1)} ms`,
      bare: "-",
      share: undefined,
      goal: `p50 ≤ ${SEARCH_GOAL_MS} ms`,
      met: timing.p50 <= SEARCH_GOAL_MS,
      figures: { p50Ms: timing.p50, p99Ms: timing.p99, meanMs: timing.mean },
    });
    return rows;
  },
};
