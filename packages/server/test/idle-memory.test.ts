/**
 * core/idle-memory.ts: once the event loop falls idle after start-up, one
 * memory-reducing full collection; after a later burst of work that grew the
 * heap little, one young-generation collection that lets V8's memory reducer
 * see allocation stopped; nothing while the loop stays idle.
 */
import assert from "node:assert/strict";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { reduceMemoryWhenIdle } from "../src/core/idle-memory.ts";

/**
 * Full collections (an idle test makes none by itself; a memory-reducing one carries no flag to tell it by) and
 * young-generation ones asked for (forced), not those V8 makes as the test allocates.
 */
function forcedCollections(): { kinds: string[]; stop(): void } {
  const kinds: string[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // A gc entry's detail (Node's docs); @types/node does not declare it.
      const { kind, flags } = (entry as unknown as { detail: { kind: number; flags: number } }).detail;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) kinds.push("major");
      else if (kind === constants.NODE_PERFORMANCE_GC_MINOR && flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) kinds.push("minor");
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  return { kinds, stop: () => observer.disconnect() };
}

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test("an idle event loop gets a full collection after start-up, a young-generation one after a burst of work that grew the heap little, and none while it stays idle", async (t) => {
  const stop = reduceMemoryWhenIdle();
  t.after(stop);
  const collections = forcedCollections();
  t.after(collections.stop);
  busy(300);
  await sleep(2_000);
  assert.ok(collections.kinds.length > 0 && collections.kinds.every((kind) => kind === "major"), `after start-up: ${collections.kinds}`);
  // V8's memory reducer may make full collections of its own from here on: count the young-generation ones.
  const minor = () => collections.kinds.filter((kind) => kind === "minor").length;
  await sleep(2_000);
  assert.equal(minor(), 0, "none while it stays idle");
  busy(300);
  await sleep(2_000);
  assert.equal(minor(), 1, "one young-generation collection after the next burst");
});
