/**
 * The lifecycle job: on one node at a time (the store's job lock, as the
 * rotation job), it warns once per secret and expiry that the secret expires
 * within its workspace's expiryWarningDays (`secret.expiring`), and once per
 * idle stretch that a secret has not been read or used for the workspace's
 * unusedAlertDays (`secret.unused`). Time is the injected clock's, so tests
 * drive it instead of waiting.
 */
import type { AlertService } from "../alert/alert.service.ts";
import { DAY_MS, type Clock } from "../core/clock.ts";
import type { SecretService } from "../secret/secret.service.ts";
import { JOB_LOCKS } from "../store/dialect.ts";
import type { Store } from "../store/store.ts";
import { recordExpiryWarning, recordUnusedAlert, unusedSecrets, unwarnedExpiries, workspaceAlertSettings } from "./lifecycle.repository.ts";

export const LIFECYCLE_JOB_EVERY_MS = 60_000;

export interface LifecycleRun {
  expiring: number;
  unused: number;
}

export class LifecycleJob {
  #store: Store;
  #secrets: SecretService;
  #alerts: AlertService;
  #clock: Clock;
  #log: (message: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<LifecycleRun | undefined> | undefined;

  constructor(store: Store, secrets: SecretService, alerts: AlertService, clock: Clock, log: (message: string) => void) {
    this.#store = store;
    this.#secrets = secrets;
    this.#alerts = alerts;
    this.#clock = clock;
    this.#log = log;
  }

  /** Runs every `everyMs` until stop(); a run still going when the next is due is not doubled. */
  start(everyMs = LIFECYCLE_JOB_EVERY_MS): void {
    this.#timer ??= setInterval(() => void this.run().catch((error: Error) => this.#log(`lifecycle job failed: ${error.message}`)), everyMs).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }

  /** One pass; undefined when another node is running it. */
  run(): Promise<LifecycleRun | undefined> {
    this.#running ??= this.#store.dialect.tryJobLock(this.#store.db, JOB_LOCKS.lifecycle, () => this.#pass()).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(): Promise<LifecycleRun> {
    const db = this.#store.db;
    const now = this.#clock();
    const done: LifecycleRun = { expiring: 0, unused: 0 };
    // This node's last reads count too; other nodes write theirs within seconds.
    await this.#secrets.flushUsage();
    for (const workspace of await workspaceAlertSettings(db)) {
      for (const secret of await unwarnedExpiries(db, workspace.id, now + workspace.expiryWarningDays * DAY_MS)) {
        const expiresAt = secret.expiresAt!;
        if (!(await recordExpiryWarning(db, secret.id, expiresAt, now))) continue;
        done.expiring++;
        const when = new Date(expiresAt).toISOString();
        await this.#alerts.raise({
          type: "secret.expiring",
          workspaceId: workspace.id,
          message: expiresAt <= now ? `secret '${secret.name}' expired at ${when}` : `secret '${secret.name}' expires at ${when}`,
          details: { secretId: secret.id, secretName: secret.name, expiresAt: when, warningDays: workspace.expiryWarningDays },
        });
      }
      if (workspace.unusedAlertDays === null) continue;
      for (const secret of await unusedSecrets(db, workspace.id, now - workspace.unusedAlertDays * DAY_MS, true)) {
        await recordUnusedAlert(db, secret.id, now);
        done.unused++;
        const lastUsedAt = secret.lastUsedAt === null ? null : new Date(secret.lastUsedAt).toISOString();
        await this.#alerts.raise({
          type: "secret.unused",
          workspaceId: workspace.id,
          message: `secret '${secret.name}' has not been read or used ${lastUsedAt ? `since ${lastUsedAt}` : "since it was created"} (${workspace.unusedAlertDays} days or more)`,
          details: { secretId: secret.id, secretName: secret.name, lastUsedAt, createdAt: new Date(secret.createdAt).toISOString(), unusedAlertDays: workspace.unusedAlertDays },
        });
      }
    }
    return done;
  }
}
