/**
 * Housekeeping deletes (retention, token tidy) remove old rows a bounded
 * chunk at a time, letting other work in between: one statement removing
 * a million rows would hold the write lock, and on SQLite the event loop,
 * for seconds.
 */
import { setImmediate as nextTurn } from "node:timers/promises";

/** Rows one housekeeping delete removes: a few milliseconds of the write lock at a time. */
export const DELETE_CHUNK = 1_000;

/** Runs `remove` (up to `limit` rows a call; how many it removed) until it removes fewer; the total. */
export async function deleteInChunks(remove: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await remove(DELETE_CHUNK);
    total += removed;
    if (removed < DELETE_CHUNK) return total;
    await nextTurn();
  }
}
