/**
 * Alerts: what the audit log's events mean for the people who watch a
 * workspace. Each durable audit batch is read once, off the request path;
 * changes to secrets and key rotations become alerts directly, refusals only
 * past a threshold (failed logins and token use) or once a minute per caller
 * and target (access denied), so an attack does not become a flood.
 * Thresholds and the once-a-minute are counted in the rate limits' store:
 * with Redis one count across all nodes (each node derives alerts from its
 * own requests' events), so a threshold crossed on three nodes together is
 * one alert, not three or none.
 */
import type { Clock } from "../core/clock.ts";
import { hashToken } from "../crypto/tokens.ts";
import { newId } from "../crypto/generate.ts";
import { requireInstanceAdmin, requireWorkspaceAdmin } from "../identity/guards.ts";
import type { Principal } from "../identity/principal.ts";
import type { Store } from "../store/store.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import type { AuditRecord } from "../audit/audit.types.ts";
import type { RotationEvent } from "../rotation/rotation.events.ts";
import { deleteAlertsBefore, deleteDeliveriesBefore, insertAlerts, recentAlerts, webhookIds, workspacesOfUsername } from "./alert.repository.ts";
import { BROADCAST, type Alert, type AlertInput, type AlertType } from "./alert.types.ts";
import type { WebhookService } from "./webhook.service.ts";
import type { LimitStore } from "../limits/limit-store.ts";
import { deleteInChunks } from "../store/chunked-delete.ts";

export interface AlertOptions {
  /** Failed logins for one username, or failed token uses from one address, that make an alert… */
  failureThreshold?: number;
  /** …within this window. */
  failureWindowMs?: number;
  /** One access-denied alert per caller, action and target in this time. */
  deniedQuietMs?: number;
  log?: (message: string) => void;
}

/** Successful actions that are alerts in themselves. */
const CHANGES: Record<string, AlertType> = {
  "secret.create": "secret.created",
  "secret.update": "secret.updated",
  "secret.delete": "secret.deleted",
  "secret.rollback": "secret.rolled_back",
  "secret.relay-policy": "secret.updated",
  "secret.auto-rotate": "secret.updated",
  "keys.rotate": "key.rotated",
};

export interface AlertView {
  id: string;
  time: number;
  type: string;
  workspaceId: string | null;
  message: string;
  details: Record<string, string | number | null>;
}

export class AlertService {
  #store: Store;
  #clock: Clock;
  #workspaces: WorkspaceService;
  #webhooks: WebhookService;
  #threshold: number;
  #windowMs: number;
  #quietMs: number;
  #log: (message: string) => void;
  #counters: LimitStore;
  #deriving = new Set<Promise<void>>();

  constructor(store: Store, clock: Clock, workspaces: WorkspaceService, webhooks: WebhookService, counters: LimitStore, options: AlertOptions = {}) {
    this.#store = store;
    this.#counters = counters;
    this.#clock = clock;
    this.#workspaces = workspaces;
    this.#webhooks = webhooks;
    this.#threshold = options.failureThreshold ?? 5;
    this.#windowMs = options.failureWindowMs ?? 5 * 60_000;
    this.#quietMs = options.deniedQuietMs ?? 60_000;
    this.#log = options.log ?? (() => {});
  }

  /** Stores an alert and hands it to the webhooks that hear it. */
  async raise(input: AlertInput): Promise<Alert> {
    return (await this.#raiseAll([input]))[0]!;
  }

  /**
   * Stores alerts with one insert (a batch of updates is a batch of alerts),
   * group-committed with the writes under way (Store.writeGrouped) rather
   * than in a commit and a sync of their own, and hands them to their webhooks.
   */
  async #raiseAll(inputs: AlertInput[]): Promise<Alert[]> {
    const time = this.#clock();
    const alerts: Alert[] = inputs.map((input) => ({ ...input, id: newId("alr"), time }));
    const rows = alerts.map((alert) => ({ ...alert, details: JSON.stringify(alert.details) }));
    // Side by side with other writes: new rows, which no other write reads or changes.
    await this.#store.writeGrouped((trx) => insertAlerts(trx, rows), { sideBySide: alerts[0]?.id });
    await this.#webhooks.enqueue(alerts.filter((alert) => alert.workspaceId !== null || BROADCAST.has(alert.type)));
    return alerts;
  }

  /**
   * Retention, with the audit log's (coffer.ts): removes alerts made before
   * `before` and webhook deliveries made before it that are no longer
   * pending (store/chunked-delete.ts); how many of each. Every change to a
   * secret is an alert, so without this they would grow without end.
   */
  async prune(before: number): Promise<{ alerts: number; deliveries: number }> {
    const db = this.#store.db;
    const alerts = await deleteInChunks((limit) => deleteAlertsBefore(db, before, limit));
    let deliveries = 0;
    for (const { id } of await webhookIds(db)) deliveries += await deleteInChunks((limit) => deleteDeliveriesBefore(db, id, before, limit));
    return { alerts, deliveries };
  }

  /** Reads a durable audit batch; never throws into the audit log. */
  fromAudit(records: AuditRecord[]): void {
    const derived = this.#derive(records)
      .catch((error: Error) => this.#log(`alerts: ${error.message}`))
      .finally(() => this.#deriving.delete(derived));
    this.#deriving.add(derived);
  }

  /** Waits until every batch handed in so far has become its alerts (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.#deriving.size > 0) await Promise.all(this.#deriving);
  }

  /** Rotation reminders from the rotation job (self-rotations arrive through the audit log). */
  fromRotation(event: RotationEvent): void {
    if (event.type === "secret.rotated") return;
    const due = event.dueAt.slice(0, 10);
    this.raise({
      type: event.type,
      workspaceId: event.workspaceId,
      message: event.type === "rotation.due" ? `secret '${event.secretName}' is due for rotation by ${due}` : `secret '${event.secretName}' is overdue for rotation since ${due}`,
      details: { secretId: event.secretId, secretName: event.secretName, version: event.version, dueAt: event.dueAt },
    }).catch((error: Error) => this.#log(`alerts: ${error.message}`));
  }

  /** A workspace's recent alerts (and instance-wide ones), for its owners and admins. */
  async list(principal: Principal, workspace: string | undefined, limit = 100): Promise<AlertView[]> {
    let workspaceId: string | null = null;
    if (workspace === undefined) requireInstanceAdmin(principal, "see every alert; workspace admins ask for their workspace's");
    else {
      const access = await this.#workspaces.access(principal, workspace);
      requireWorkspaceAdmin(principal, access, "see alerts");
      workspaceId = access.workspace.id;
    }
    return (await recentAlerts(this.#store.db, workspaceId, [...BROADCAST], limit)).map((row) => ({ ...row, details: JSON.parse(row.details) as AlertView["details"] }));
  }

  async #derive(records: AuditRecord[]): Promise<void> {
    const changes: AlertInput[] = [];
    for (const event of records) {
      const change = event.outcome === "ok" ? CHANGES[event.action] : undefined;
      if (change) changes.push(changeAlert(change, event));
      else if (event.status === 401 || (event.action === "auth.login" && event.status === 429)) await this.#failure(event);
      else if (event.status === 403 && event.actorId !== null) await this.#deniedAccess(event);
    }
    if (changes.length > 0) await this.#raiseAll(changes);
  }

  async #failure(event: AuditRecord): Promise<void> {
    const login = event.action === "auth.login";
    const key = login ? `alert-login:${event.subject ?? ""}` : `alert-token:${event.ip}`;
    // Exactly the threshold, not at least: one alert per window however many nodes see failures.
    const recent = await this.#counters.count(hashToken(key), this.#windowMs);
    if (recent !== this.#threshold) return;
    const what = login ? `${recent} failed logins for '${event.subject ?? ""}'` : `${recent} requests with a bad, expired or revoked token from ${event.ip}`;
    const message = `${what} within ${Math.round(this.#windowMs / 60_000)} minutes`;
    const details = { kind: login ? "login" : "token", username: login ? (event.subject ?? null) : null, ip: event.ip, count: recent, lastRequestId: event.requestId };
    const workspaces = login ? await workspacesOfUsername(this.#store.db, event.subject ?? "") : event.workspaceId !== null ? [event.workspaceId] : [];
    if (workspaces.length === 0) await this.raise({ type: "auth.failures", workspaceId: null, message, details });
    for (const workspaceId of workspaces) await this.raise({ type: "auth.failures", workspaceId, message, details });
  }

  async #deniedAccess(event: AuditRecord): Promise<void> {
    const target = event.secretName ?? event.secretId ?? event.subject ?? "";
    const key = `alert-denied:${event.actorId}:${event.action}:${event.workspaceId ?? ""}:${target}`;
    if ((await this.#counters.count(hashToken(key), this.#quietMs)) !== 1) return;
    await this.raise({
      type: "access.denied",
      workspaceId: event.workspaceId,
      message: `${event.actorName ?? event.actorId} was refused ${event.action}${target ? ` on '${target}'` : ""}`,
      details: { actorId: event.actorId, actorName: event.actorName, action: event.action, secretId: event.secretId, secretName: event.secretName, ip: event.ip, requestId: event.requestId },
    });
  }
}

function changeAlert(type: AlertType, event: AuditRecord): AlertInput {
  const who = event.actorName ?? event.actorId ?? "someone";
  const message =
    type === "key.rotated" ? `${who} rotated the data key` : `${who} ${type.slice("secret.".length).replace("_", " ")} secret '${event.secretName ?? event.secretId ?? ""}'`;
  return {
    type,
    workspaceId: type === "key.rotated" ? null : event.workspaceId,
    message,
    details: { actorId: event.actorId, actorName: event.actorName, secretId: event.secretId, secretName: event.secretName, requestId: event.requestId },
  };
}
