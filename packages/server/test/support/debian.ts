/**
 * Debian packages that tests drive for real (Chromium, HAProxy, hvac). CI
 * (CI=true, running as root) installs a missing one with apt-get, so a fresh
 * machine runs every test; elsewhere the test is skipped with the reason.
 */
import { spawnSync } from "node:child_process";

/**
 * Test files run in parallel and several want the same package: dpkg's own
 * lock refuses a second apt-get at once instead of waiting, so ours take
 * turns on this file (and wait for any other apt-get on the machine).
 */
const APT_LOCK = "/var/lock/coffer-tests-apt";
let listsUpdated = false;

function aptGet(args: string[]) {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  return spawnSync("flock", [APT_LOCK, "apt-get", "-o", "DPkg::Lock::Timeout=600", ...args], { encoding: "utf8", timeout: 900_000, env });
}

/**
 * true when `present()` holds, after installing `debianPackage` in CI if it
 * did not; false outside CI when it does not. Throws in CI when the install
 * fails, so a test CI requires never passes by skipping.
 */
export function debianPackagePresent(debianPackage: string, present: () => boolean): boolean {
  if (present()) return true;
  if (process.env.CI !== "true" || process.getuid?.() !== 0) return false;
  let result = aptGet(["install", "-y", "--no-install-recommends", debianPackage]);
  if (result.status !== 0 && !listsUpdated) {
    aptGet(["update"]);
    listsUpdated = true;
    result = aptGet(["install", "-y", "--no-install-recommends", debianPackage]);
  }
  if (result.status === 0 && present()) return true;
  throw new Error(`CI requires Debian's ${debianPackage} and 'apt-get install -y ${debianPackage}' failed:\n${result.stderr}`);
}
