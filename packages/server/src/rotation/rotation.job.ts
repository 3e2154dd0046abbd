/**
 * The rotation job: on one node at a time (the store's job lock), it sends
 * each reminder once per (secret, version, kind) — recorded in the store, so
 * no node sends it again — and writes a new generated value for self-rotating
 * secrets that reached their due date. Time is the injected clock's, so tests
 * drive it instead of waiting.
 */
import type { SecretType } from "@coffer/protocol";
import type { Clock } from "../core/clock.ts";
import type { SecretService } from "../secret/secret.service.ts";
import type { Store } from "../store/store.ts";
import { StoreJob } from "../store/store-job.ts";
import type { RotationEventPublisher, RotationEventType } from "./rotation.events.ts";
import { listRotationCandidates, recordReminder } from "./rotation.repository.ts";
import { planOf, SELF_ROTATING_TYPES, statusAt } from "./rotation.rules.ts";

const BATCH = 200;

export interface RotationRun {
  reminded: number;
  rotated: number;
}

export class RotationJob extends StoreJob<RotationRun> {
  #secrets: SecretService;
  #events: RotationEventPublisher;
  #clock: Clock;

  constructor(store: Store, secrets: SecretService, events: RotationEventPublisher, clock: Clock, log: (message: string) => void) {
    super(store, "rotation", log);
    this.#secrets = secrets;
    this.#events = events;
    this.#clock = clock;
  }

  protected async pass(): Promise<RotationRun> {
    const now = this.#clock();
    const done: RotationRun = { reminded: 0, rotated: 0 };
    let after = "";
    for (;;) {
      const batch = await listRotationCandidates(this.store.db, now, after, BATCH);
      for (const secret of batch) {
        after = secret.id;
        const plan = planOf(secret.intervalDays, secret.versionCreatedAt);
        if (!plan) continue;
        const status = statusAt(plan, now);
        const event = { workspaceId: secret.workspaceId, secretId: secret.id, secretName: secret.name };
        try {
          if (status === "overdue" && secret.autoRotate === 1 && SELF_ROTATING_TYPES.includes(secret.type as SecretType)) {
            const version = await this.#secrets.rotateGenerated(secret.workspaceId, secret.id, secret.currentVersion);
            if (version !== undefined) {
              done.rotated++;
              this.#events.publish({ type: "secret.rotated", ...event, version, dueAt: new Date(planOf(plan.intervalDays, now)!.dueAt).toISOString() });
            }
            continue;
          }
          const kind: RotationEventType = status === "overdue" ? "rotation.overdue" : "rotation.due";
          if (Number(kind === "rotation.due" ? secret.dueSent : secret.overdueSent) > 0) continue;
          if (await recordReminder(this.store.db, { secretId: secret.id, version: secret.currentVersion, kind, sentAt: now })) {
            done.reminded++;
            this.#events.publish({ type: kind, ...event, version: secret.currentVersion, dueAt: new Date(plan.dueAt).toISOString() });
          }
        } catch (error) {
          // One secret that cannot be handled must not hold up the others; the next pass tries it again.
          this.log(`rotation of secret ${secret.id} failed: ${(error as Error).message}`);
        }
      }
      if (batch.length < BATCH) return done;
    }
  }
}
