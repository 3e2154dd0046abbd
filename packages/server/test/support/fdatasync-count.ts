/**
 * Counts every fdatasync of a file handle in this process until the test
 * ends: with a SQLite store, its WAL syncs (store/wal-sync.ts).
 */
import { open } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { tempDir } from "./stores.ts";

export async function countDatasyncs(t: TestContext): Promise<() => number> {
  const probe = await open(join(tempDir(), "probe"), "w");
  const prototype = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
  await probe.close();
  const datasync = prototype.datasync;
  let syncs = 0;
  prototype.datasync = function (this: unknown) {
    syncs++;
    return datasync.call(this);
  };
  t.after(() => {
    prototype.datasync = datasync;
  });
  return () => syncs;
}
