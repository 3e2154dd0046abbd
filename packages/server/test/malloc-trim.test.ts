/**
 * core/malloc-trim.ts: on glibc, memory freed in holes of glibc's heap,
 * which glibc keeps resident by itself, goes back to the system.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { trimMalloc } from "../src/core/malloc-trim.ts";

const onGlibc = existsSync("/proc/self/maps") && /\/libc\.so\.6$/m.test(readFileSync("/proc/self/maps", "latin1"));
const MiB = 1024 * 1024;

function fullCollection(): void {
  setFlagsFromString("--expose-gc");
  try {
    (runInNewContext("gc") as () => void)();
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}

test("on glibc, the free memory inside glibc's heap goes back to the system", { skip: onGlibc ? false : "not on glibc: nothing to trim" }, async () => {
  // ~25 MiB of buffers from glibc's heap (Buffer's slow allocation is a malloc each), of which one in 50 stays: holes.
  let buffers: Buffer[] = [];
  for (let i = 0; i < 20_000; i++) buffers.push(Buffer.allocUnsafeSlow(1024 + (i % 7) * 100));
  buffers = buffers.filter((_, i) => i % 50 === 0);
  fullCollection();
  // V8 frees the buffers' memory on a thread of its own, after the collection.
  while (process.memoryUsage().arrayBuffers > 5 * MiB) await sleep(50);
  const before = process.memoryUsage.rss();
  assert.equal(trimMalloc(), true);
  const released = before - process.memoryUsage.rss();
  assert.ok(released > 10 * MiB, `released ${(released / MiB).toFixed(1)} MiB`);
  assert.equal(buffers.length, 400);
});

test("where there is no glibc it does nothing and says so", { skip: onGlibc ? "on glibc" : false }, () => {
  assert.equal(trimMalloc(), false);
});
