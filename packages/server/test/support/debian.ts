/**
 * Debian packages that tests drive for real (Chromium, HAProxy, hvac). CI
 * (CI=true, running as root) installs a missing one with apt-get, so a fresh
 * machine runs every test; elsewhere the test is skipped with the reason.
 */
import { spawnSync } from "node:child_process";

let listsUpdated = false;

/**
 * true when `present()` holds, after installing `debianPackage` in CI if it
 * did not; false outside CI when it does not. Throws in CI when the install
 * fails, so a test CI requires never passes by skipping.
 */
export function debianPackagePresent(debianPackage: string, present: () => boolean): boolean {
  if (present()) return true;
  if (process.env.CI !== "true" || process.getuid?.() !== 0) return false;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["install", "-y", "--no-install-recommends", debianPackage], { encoding: "utf8", timeout: 600_000, env });
  let result = install();
  if (result.status !== 0 && !listsUpdated) {
    spawnSync("apt-get", ["update"], { encoding: "utf8", timeout: 300_000, env });
    listsUpdated = true;
    result = install();
  }
  if (result.status === 0 && present()) return true;
  throw new Error(`CI requires Debian's ${debianPackage} and 'apt-get install -y ${debianPackage}' failed:\n${result.stderr}`);
}
