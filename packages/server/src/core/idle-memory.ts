/**
 * Lets V8 give memory back once the server falls idle. V8 shrinks its young
 * generation and compacts the old one in the collections of its memory
 * reducer, which runs them (incrementally, in pauses of a few ms) once the
 * allocation rate is low. But it measures that rate only at a collection,
 * and a server that stops allocating makes none: it goes on believing the
 * rate of its last burst of work (start-up, a load) and keeps the heap that
 * burst grew, tens of MiB more than it holds. So once the event loop has
 * been idle for a second after being busy, this makes one young-generation
 * collection (under a millisecond): the rate is measured again, and within
 * the reducer's next check (at most 8 s) V8 reduces the heap by itself.
 * Where the heap grew by more than BIG_GROWTH_BYTES since the last full
 * collection (start-up, whose garbage is every module compiled and every
 * route built; a load), it gets the memory-reducing full collection at once
 * instead: one pause of 20–150 ms while nothing waits, at most once per
 * FULL_EVERY_MS. The bench's server after its load (goal 150 MiB): 149–165
 * MiB with 32 MiB and 60 s; 138–151 with 8 MiB and 10 s (noisy runs). A
 * full collection every 10 s of a busy-then-idle server is a pause only an
 * idle loop sees. Either way glibc then hands back what it holds free
 * (core/malloc-trim.ts).
 */
import { performance } from "node:perf_hooks";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { trimMalloc } from "./malloc-trim.ts";

const CHECK_MS = 500;
/** Checks in a row that found the event loop idle. */
const IDLE_CHECKS = 2;
/** Below this share of its time busy, the event loop is idle (timers and health checks stay under it). */
const IDLE_UTILIZATION = 0.02;
const BIG_GROWTH_BYTES = 8 * 1024 * 1024;
const FULL_EVERY_MS = 10_000;

type Collection = { type: "minor" } | { type: "major"; execution: "sync"; flavor: "last-resort" };

/** V8's gc(), without exposing it to every module as --expose-gc would. */
function garbageCollector(): (collection: Collection) => void {
  setFlagsFromString("--expose-gc");
  try {
    return runInNewContext("gc") as (collection: Collection) => void;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}

const heapBytes = () => getHeapStatistics().total_physical_size;

/** Starts watching the event loop, start-up being its first burst of work; the returned function stops it. */
export function reduceMemoryWhenIdle(): () => void {
  const collect = garbageCollector();
  let usage = performance.eventLoopUtilization();
  let idleChecks = 0;
  let busySinceCollection = true;
  // No full collection yet: start-up gets one.
  let heapAfterFull = -Infinity;
  let fullAt = -Infinity;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const idle = performance.eventLoopUtilization(now, usage).utilization < IDLE_UTILIZATION;
    usage = now;
    idleChecks = idle ? idleChecks + 1 : 0;
    if (!idle) busySinceCollection = true;
    if (idleChecks < IDLE_CHECKS || !busySinceCollection) return;
    busySinceCollection = false;
    if (heapBytes() - heapAfterFull > BIG_GROWTH_BYTES && performance.now() - fullAt >= FULL_EVERY_MS) {
      collect({ type: "major", execution: "sync", flavor: "last-resort" });
      fullAt = performance.now();
      heapAfterFull = heapBytes();
    } else {
      collect({ type: "minor" });
    }
    // What the work and the collection freed in glibc's heap goes back to the system too (core/malloc-trim.ts).
    trimMalloc();
    // This kept the loop busy: that is not work.
    usage = performance.eventLoopUtilization();
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
