/**
 * Webhooks: per-workspace endpoints that hear alerts. A delivery is recorded
 * before it is attempted, attempted off the request path, signed, retried
 * with exponential backoff, and given up after a few tries; a dead endpoint
 * costs a request nothing. Deliveries are at least once: after a crash or on
 * another node, a pending one is picked up again.
 */
import { CofferError, invalid } from "../core/errors.ts";
import type { Clock } from "../core/clock.ts";
import { newId } from "../crypto/generate.ts";
import { keyVersionOfSealed } from "../crypto/keyring.ts";
import { SIGNATURE_HEADER, newSigningKey, signatureHeader } from "../crypto/webhook-signature.ts";
import { requireWorkspaceAdmin } from "../identity/guards.ts";
import type { Principal } from "../identity/principal.ts";
import type { KeyService } from "../keys/keys.service.ts";
import type { Store } from "../store/store.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import {
  claimDelivery,
  deleteWebhook,
  dueDeliveries,
  findAlert,
  findWebhook,
  insertDeliveries,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  recordAttempt,
  webhooksFor,
  type DeliveryRow,
  type WebhookRow,
} from "./alert.repository.ts";
import { ALERT_TYPES, type Alert } from "./alert.types.ts";

export interface WebhookOptions {
  /** The first retry waits this long; each next one twice as long. */
  retryBaseMs?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  log?: (message: string) => void;
}

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  createdAt: number;
  createdBy: string;
}

export type DeliveryView = Omit<DeliveryRow, "webhookId">;

const ALL = "*";
const MAX_WEBHOOKS = 20;
const PUMP_BATCH = 50;
/** Picks up what a stopped node, or another node, left pending. */
const SWEEP_MS = 30_000;

export class WebhookService {
  #store: Store;
  #clock: Clock;
  #keys: KeyService;
  #workspaces: WorkspaceService;
  #retryBaseMs: number;
  #maxAttempts: number;
  #timeoutMs: number;
  #log: (message: string) => void;
  #timers = new Set<NodeJS.Timeout>();
  #pumping: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(store: Store, clock: Clock, keys: KeyService, workspaces: WorkspaceService, options: WebhookOptions = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#keys = keys;
    this.#workspaces = workspaces;
    this.#retryBaseMs = options.retryBaseMs ?? 1_000;
    this.#maxAttempts = options.maxAttempts ?? 6;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#log = options.log ?? (() => {});
    this.#sweep();
    this.kick();
  }

  async create(principal: Principal, workspace: string, input: { url: string; events: string[] }): Promise<{ webhook: WebhookView; signingKey: string }> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "manage webhooks");
    const url = checkUrl(input.url);
    const events = checkEvents(input.events);
    const existing = await listWebhooks(this.#store.db, access.workspace.id);
    if (existing.length >= MAX_WEBHOOKS) throw invalid(`a workspace has at most ${MAX_WEBHOOKS} webhooks`);
    const id = newId("whk");
    const signingKey = newSigningKey();
    const sealed = this.#keys.seal({ workspaceId: access.workspace.id, secretId: id, version: 0 }, Buffer.from(signingKey));
    const row: WebhookRow = {
      id,
      workspaceId: access.workspace.id,
      url,
      events: JSON.stringify(events),
      signingKey: sealed,
      keyVersion: keyVersionOfSealed(sealed),
      createdAt: this.#clock(),
      createdBy: principal.id,
    };
    await insertWebhook(this.#store.db, row);
    return { webhook: view(row), signingKey };
  }

  async list(principal: Principal, workspace: string): Promise<WebhookView[]> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "see webhooks");
    return (await listWebhooks(this.#store.db, access.workspace.id)).map(view);
  }

  async delete(principal: Principal, workspace: string, id: string): Promise<void> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "manage webhooks");
    const result = await deleteWebhook(this.#store.db, access.workspace.id, id);
    if (Number(result.numDeletedRows) === 0) throw new CofferError("NOT_FOUND", `no webhook '${id}' in this workspace`);
  }

  async deliveries(principal: Principal, workspace: string, id: string): Promise<DeliveryView[]> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "see webhook deliveries");
    const webhook = await findWebhook(this.#store.db, id);
    if (!webhook || webhook.workspaceId !== access.workspace.id) throw new CofferError("NOT_FOUND", `no webhook '${id}' in this workspace`);
    return (await listDeliveries(this.#store.db, id, 100)).map(({ webhookId: _, ...delivery }) => delivery);
  }

  /** Records a delivery for every webhook that hears each alert (one insert for them all), then attempts them in the background. */
  async enqueue(alerts: readonly Alert[]): Promise<void> {
    const now = this.#clock();
    const hooksOf = new Map<string | null, Promise<Awaited<ReturnType<typeof webhooksFor>>>>();
    const deliveries = [];
    for (const alert of alerts) {
      if (!hooksOf.has(alert.workspaceId)) hooksOf.set(alert.workspaceId, webhooksFor(this.#store.db, alert.workspaceId));
      for (const hook of await hooksOf.get(alert.workspaceId)!) {
        const events = JSON.parse(hook.events) as string[];
        if (!events.includes(ALL) && !events.includes(alert.type)) continue;
        deliveries.push({ id: newId("dlv"), webhookId: hook.id, alertId: alert.id, state: "pending", attempts: 0, lastStatus: null, lastError: null, nextAttemptAt: now, createdAt: now, updatedAt: now });
      }
    }
    await insertDeliveries(this.#store.db, deliveries);
    if (deliveries.length > 0) this.kick();
  }

  /** Attempts whatever is due now. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = this.#pump()
      .catch((error: Error) => this.#log(`webhook deliveries: ${error.message}`))
      .finally(() => {
        this.#pumping = null;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Stops scheduling; attempts under way finish on their own. */
  stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    return this.#pumping ?? Promise.resolve();
  }

  async #pump(): Promise<void> {
    // A sealed node cannot open signing keys: claiming deliveries would only use up their attempts.
    if (this.#keys.sealed) return;
    const db = this.#store.db;
    const due = await dueDeliveries(db, this.#clock(), PUMP_BATCH);
    for (const row of due) {
      if (await claimDelivery(db, row, this.#clock() + this.#timeoutMs * 2)) {
        this.#attempt(row).catch((error: Error) => this.#log(`webhook delivery ${row.id}: ${error.message}`));
      }
    }
  }

  async #attempt(row: DeliveryRow): Promise<void> {
    const db = this.#store.db;
    const [webhook, alert] = await Promise.all([findWebhook(db, row.webhookId), findAlert(db, row.alertId)]);
    if (!webhook || !alert) return; // the webhook was deleted meanwhile: its deliveries went with it
    const attempts = row.attempts + 1;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const key = (await this.#keys.open({ workspaceId: webhook.workspaceId, secretId: webhook.id, version: 0 }, webhook.signingKey)).toString();
      const body = JSON.stringify({
        id: alert.id,
        deliveryId: row.id,
        type: alert.type,
        time: new Date(alert.time).toISOString(),
        workspaceId: alert.workspaceId,
        message: alert.message,
        details: JSON.parse(alert.details),
      });
      const response = await fetch(webhook.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "Coffer-Webhook/1", "coffer-event": alert.type, "coffer-delivery": row.id, [SIGNATURE_HEADER]: signatureHeader(key, Math.floor(this.#clock() / 1000), body) },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.status;
      await response.body?.cancel();
      if (status < 200 || status >= 300) error = `answered ${status}`;
    } catch (failure) {
      error = describeFailure(failure as Error);
    }
    const now = this.#clock();
    const delivered = error === null;
    const givenUp = !delivered && attempts >= this.#maxAttempts;
    const retryIn = this.#retryBaseMs * 2 ** (attempts - 1);
    await recordAttempt(db, row.id, {
      state: delivered ? "delivered" : givenUp ? "failed" : "pending",
      attempts,
      lastStatus: status,
      lastError: error,
      nextAttemptAt: delivered || givenUp ? null : now + retryIn,
      updatedAt: now,
    });
    if (givenUp) this.#log(`webhook ${webhook.id}: gave up on delivery ${row.id} after ${attempts} attempts (${error})`);
    else if (!delivered) this.#kickAt(now + retryIn);
  }

  #sweep(): void {
    this.#later(SWEEP_MS, () => {
      this.kick();
      this.#sweep();
    });
  }

  /**
   * Attempts what is due at `at`. Node times a timer from the event loop's
   * time, taken when the loop last woke, so it can fire before the clock
   * reaches `at`: a pump then would find the delivery not yet due, and leave
   * it to the sweep. It waits for the rest instead.
   */
  #kickAt(at: number): void {
    this.#later(Math.max(0, at - this.#clock()), () => (this.#clock() < at ? this.#kickAt(at) : this.kick()));
  }

  #later(ms: number, then: () => void): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      then();
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }
}

function view(row: WebhookRow): WebhookView {
  return { id: row.id, url: row.url, events: JSON.parse(row.events) as string[], createdAt: row.createdAt, createdBy: row.createdBy };
}

function checkUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid("url must be an absolute http or https URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw invalid("url must be an http or https URL");
  // Credentials in a URL would be stored and shown in lists: refuse them.
  if (url.username || url.password) throw invalid("url must not carry a username or password");
  return url.toString();
}

function checkEvents(events: string[]): string[] {
  const unique = [...new Set(events)];
  if (unique.length === 0) throw invalid(`events needs at least one of: ${ALL}, ${ALERT_TYPES.join(", ")}`);
  for (const event of unique) {
    if (event !== ALL && !(ALERT_TYPES as readonly string[]).includes(event)) throw invalid(`unknown event '${event}'; known: ${ALL}, ${ALERT_TYPES.join(", ")}`);
  }
  return unique;
}

/** A failure as a short reason for the delivery log (the URL is already known; never a response body). */
function describeFailure(error: Error): string {
  if (error.name === "TimeoutError") return "timed out";
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ? `connection failed (${cause.code})` : "connection failed";
}
