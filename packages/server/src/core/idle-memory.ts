/**
 * Lets V8 give memory back once the server falls idle. V8 shrinks its young
 * generation and compacts the old one in the collections of its memory
 * reducer, which runs them (incrementally, in pauses of a few ms) once the
 * allocation rate is low. But it measures that rate only at a collection,
 * and a server that stops allocating makes none: it goes on believing the
 * rate of its last burst of work (start-up, a load) and keeps the heap that
 * burst grew, ~25 MiB more than it holds. So once the event loop has been
 * idle for a second after being busy, this makes one young-generation
 * collection (under a millisecond): the rate is measured again, and within
 * the reducer's next check (at most 8 s) V8 reduces the heap by itself.
 */
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

const CHECK_MS = 500;
/** Checks in a row that found the event loop idle. */
const IDLE_CHECKS = 2;
/** Below this share of its time busy, the event loop is idle (timers and health checks stay under it). */
const IDLE_UTILIZATION = 0.02;

type GarbageCollector = (options: { type: "minor" }) => void;

/** V8's gc(), without exposing it to every module as --expose-gc would. */
function garbageCollector(): GarbageCollector {
  setFlagsFromString("--expose-gc");
  try {
    return runInNewContext("gc") as GarbageCollector;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}

/** Starts watching the event loop; the returned function stops it. */
export function reduceMemoryWhenIdle(): () => void {
  const collect = garbageCollector();
  let usage = performance.eventLoopUtilization();
  let idleChecks = 0;
  // Start-up was the first burst of work.
  let busySinceCollection = true;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const idle = performance.eventLoopUtilization(now, usage).utilization < IDLE_UTILIZATION;
    usage = now;
    idleChecks = idle ? idleChecks + 1 : 0;
    if (!idle) busySinceCollection = true;
    if (idleChecks < IDLE_CHECKS || !busySinceCollection) return;
    collect({ type: "minor" });
    busySinceCollection = false;
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
