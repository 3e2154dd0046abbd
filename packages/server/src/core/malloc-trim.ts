/**
 * Gives glibc's free memory back to the system. glibc returns the top of its
 * heap when that is free, but a hole below memory still in use stays
 * resident however large it grows: an idle server held 19 MiB in glibc's
 * main arena, 7 of it in use (start-up's module compilation and code caches
 * freed between allocations that stay). Only malloc_trim releases the pages
 * inside such holes (madvise, the addresses kept), and Node has no call for
 * it. SQLite has one: its extension loader opens a shared library and calls
 * a function in it named by the caller, as `entry(db, &error, api)`, which
 * malloc_trim(pad) takes as its pad, the free memory to keep at the heap's
 * top: more than there is, so the top is left to free() as before and only
 * the holes are released. The library is the C library the process already
 * runs on (dlopen hands back the loaded one), on a private in-memory
 * database opened for the call and closed after it, which runs no SQL.
 * Elsewhere (musl, macOS, Windows, Node's permission model) there is no
 * glibc to call or no loader to call it with, and this does nothing.
 */
import { readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";

/** glibc's C library as this process mapped it, or null where there is none (its soname is glibc's alone). */
function loadedGlibc(): string | null {
  let maps: string;
  try {
    maps = readFileSync("/proc/self/maps", "latin1");
  } catch {
    return null;
  }
  return /\s(\/\S*\/libc\.so\.6)$/m.exec(maps)?.[1] ?? null;
}

let glibc: string | null | undefined;

/**
 * Releases the free pages inside glibc's heaps: a few milliseconds, a pass
 * over its free lists under its locks. Returns false where it cannot.
 */
export function trimMalloc(): boolean {
  glibc ??= loadedGlibc();
  if (glibc === null) return false;
  let database: DatabaseSync | undefined;
  try {
    database = new DatabaseSync(":memory:", { allowExtension: true });
    // malloc_trim returns 1 when it released memory, which SQLite reports as a failed initialisation.
    database.loadExtension(glibc, "malloc_trim");
  } catch (error) {
    if (!(error instanceof Error && /error during initialization/.test(error.message))) {
      glibc = null;
      return false;
    }
  } finally {
    database?.close();
  }
  return true;
}
