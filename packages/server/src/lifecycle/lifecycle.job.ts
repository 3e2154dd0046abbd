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
import type { Store } from "../store/store.ts";
import { StoreJob } from "../store/store-job.ts";
import { recordExpiryWarning, recordUnusedAlert, unusedSecrets, unwarnedExpiries, workspaceAlertSettings } from "./lifecycle.repository.ts";

export interface LifecycleRun {
  expiring: number;
  unused: number;
}

export class LifecycleJob extends StoreJob<LifecycleRun> {
  #secrets: SecretService;
  #alerts: AlertService;
  #clock: Clock;

  constructor(store: Store, secrets: SecretService, alerts: AlertService, clock: Clock, log: (message: string) => void) {
    super(store, "lifecycle", log);
    this.#secrets = secrets;
    this.#alerts = alerts;
    this.#clock = clock;
  }

  protected async pass(): Promise<LifecycleRun> {
    const db = this.store.db;
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
