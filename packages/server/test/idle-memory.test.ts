/**
 * core/idle-memory.ts: once the event loop falls idle after work, one
 * young-generation collection lets V8's memory reducer see that allocation
 * stopped; an idle loop that was not busy gets none.
 */
import assert from "node:assert/strict";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { reduceMemoryWhenIdle } from "../src/core/idle-memory.ts";

/** Young-generation collections asked for (forced), not those V8 makes as the test allocates. */
function minorCollections(): { count(): number; stop(): void } {
  let count = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // A gc entry's detail (Node's docs); @types/node does not declare it.
      const { kind, flags } = (entry as unknown as { detail: { kind: number; flags: number } }).detail;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR && flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) count++;
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  return { count: () => count, stop: () => observer.disconnect() };
}

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test("an event loop idle after work gets one young-generation collection, and no more while it stays idle", async (t) => {
  const stop = reduceMemoryWhenIdle();
  t.after(stop);
  const collections = minorCollections();
  t.after(collections.stop);
  busy(300);
  await sleep(2_000);
  assert.equal(collections.count(), 1, "one collection once idle");
  await sleep(2_000);
  assert.equal(collections.count(), 1, "none while it stays idle");
  busy(300);
  await sleep(2_000);
  assert.equal(collections.count(), 2, "one more after the next burst of work");
});
