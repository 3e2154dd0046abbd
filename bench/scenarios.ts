/**
 * The scenarios `npm run bench` runs, in this order, one or more table rows
 * each. Adding one: write bench/scenarios/<name>.ts exporting a Scenario and
 * list it here. Memory stays last: it reports RSS after all the load above.
 */
import type { Scenario } from "./scenario.ts";
import { cliRun } from "./scenarios/cli-run.ts";
import { lists } from "./scenarios/list.ts";
import { memory } from "./scenarios/memory.ts";
import { reads } from "./scenarios/read.ts";
import { relay } from "./scenarios/relay.ts";
import { startup } from "./scenarios/startup.ts";
import { updates } from "./scenarios/update.ts";

export const SCENARIOS: Scenario[] = [startup, reads, lists, updates, relay, cliRun, memory];
