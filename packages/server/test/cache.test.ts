/**
 * core/cache.ts: bounded by entries, or by the weight `weigh` gives each
 * entry; the oldest inserted out first; a set after an invalidation that
 * followed the fetch is dropped.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Cache } from "../src/core/cache.ts";

const keys = (cache: Cache<string, number>, all: string[]) => all.filter((key) => cache.get(key) !== undefined);

test("a cache holds at most its capacity of entries, the oldest inserted out first", () => {
  const cache = new Cache<string, number>(2);
  for (const key of ["a", "b", "c"]) cache.set(key, 1, cache.epoch);
  assert.deepEqual(keys(cache, ["a", "b", "c"]), ["b", "c"]);
  cache.set("b", 2, cache.epoch);
  cache.set("d", 1, cache.epoch);
  assert.deepEqual(keys(cache, ["a", "b", "c", "d"]), ["b", "d"]);
});

test("the oldest inserted goes first over many evictions, after the cache emptied and after a clear", () => {
  const cache = new Cache<string, number>(3);
  const all = Array.from({ length: 1000 }, (_, i) => `k${i}`);
  for (const key of all) cache.set(key, 1, cache.epoch);
  assert.deepEqual(keys(cache, all), ["k997", "k998", "k999"]);
  // Every entry out, then more in than it holds: eviction starts again at the oldest of those.
  cache.delete("k997", "k998", "k999");
  for (const key of ["a", "b", "c", "d"]) cache.set(key, 1, cache.epoch);
  assert.deepEqual(keys(cache, ["a", "b", "c", "d"]), ["b", "c", "d"]);
  cache.clear();
  for (const key of ["e", "f", "g", "h", "i"]) cache.set(key, 1, cache.epoch);
  assert.deepEqual(keys(cache, ["e", "f", "g", "h", "i"]), ["g", "h", "i"]);
  assert.equal(cache.size, 3);
});

test("a weighed cache holds at most its capacity of weight, and no entry heavier than all of it", () => {
  const cache = new Cache<string, number>(10, (weight) => weight);
  cache.set("a", 4, cache.epoch);
  cache.set("b", 4, cache.epoch);
  cache.set("c", 4, cache.epoch);
  assert.deepEqual(keys(cache, ["a", "b", "c"]), ["b", "c"]);
  cache.set("huge", 11, cache.epoch);
  assert.deepEqual(keys(cache, ["b", "c", "huge"]), ["b", "c"]);
  cache.set("d", 10, cache.epoch);
  assert.deepEqual(keys(cache, ["b", "c", "d"]), ["d"]);
  // Deleting and replacing give their weight back.
  cache.delete("d");
  for (const key of ["e", "f"]) cache.set(key, 5, cache.epoch);
  cache.set("e", 1, cache.epoch);
  cache.set("g", 4, cache.epoch);
  assert.deepEqual(keys(cache, ["e", "f", "g"]), ["e", "f", "g"]);
  cache.delete("f");
  cache.set("h", 5, cache.epoch);
  assert.deepEqual(keys(cache, ["e", "g", "h"]), ["e", "g", "h"]);
  cache.clear();
  cache.set("i", 10, cache.epoch);
  assert.equal(cache.size, 1);
});

test("a set whose fetch began before an invalidation is dropped; a capacity of 0 keeps nothing", () => {
  const cache = new Cache<string, number>(2);
  const epoch = cache.epoch;
  cache.delete("a");
  cache.set("a", 1, epoch);
  assert.equal(cache.get("a"), undefined);
  const off = new Cache<string, number>(0);
  off.set("a", 1, off.epoch);
  assert.equal(off.size, 0);
});
