/**
 * What the UI tests share: Debian's Chromium through playwright-core (skipped
 * with a reason where it is missing), a recorder of everything a page
 * received and showed (to search for values), screenshots under
 * test-output/ui/, and logging in and out.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { debianPackagePresent } from "../../../server/test/support/debian.ts";

// The page's global, as page.evaluate() callbacks use it (tests are type-checked without the DOM library).
declare const document: { documentElement: { outerHTML: string } };

export const CHROMIUM = "/usr/bin/chromium";
export const SHOTS = fileURLToPath(new URL("../../../../test-output/ui/", import.meta.url));
export const PASSWORD = "ui-test-password-1";

/** Installs Debian's Chromium in CI (as root); elsewhere a missing browser skips the test with the reason. */
export function chromiumOrReason(): string | undefined {
  if (debianPackagePresent("chromium", () => existsSync(CHROMIUM))) return undefined;
  return `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the UI tests`;
}

/** Playwright starts the browser on a fresh temporary profile of its own. */
export async function launch(t: { after: (fn: () => Promise<void> | void) => void }): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  t.after(() => browser.close());
  return browser;
}

/** Everything the page received and showed, to search for values later. */
export class Recorder {
  bodies: { url: string; text: string }[] = [];
  doms: { where: string; html: string }[] = [];
  problems: string[] = [];
  #pending: Promise<void>[] = [];

  watch(page: Page): void {
    page.on("response", (response) => {
      this.#pending.push(
        response.text().then(
          (text) => void this.bodies.push({ url: response.url(), text }),
          () => undefined,
        ),
      );
    });
    page.on("console", (message) => {
      if (message.type() === "error" && /Content Security Policy|Refused to/i.test(message.text())) this.problems.push(message.text());
    });
    page.on("pageerror", (error) => this.problems.push(String(error)));
  }

  async snapshot(page: Page, where: string): Promise<void> {
    this.doms.push({ where, html: await page.evaluate(() => document.documentElement.outerHTML) });
  }

  async settle(): Promise<void> {
    await Promise.all(this.#pending);
  }
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export async function login(page: Page, url: string, username: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Secrets" }).waitFor();
}

export async function logout(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("button", { name: "Log in" }).waitFor();
}
