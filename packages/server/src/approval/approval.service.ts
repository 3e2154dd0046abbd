/**
 * Approvals: a person in the loop for a secret's uses. A secret whose
 * `approval` setting is `agents` (tokens carrying an `agent` label) or `all`
 * makes each relayed call or signature by such a caller wait, bounded, until
 * someone who manages the secret approves it (once, or for that token for a
 * while) or denies it; silence denies. The threat: an agent holding `use`
 * that was talked into sending a credential somewhere it should not.
 *
 * The wait works across nodes: a decision is a conditional UPDATE (pending →
 * decided, so only one decision wins, and a decision racing the timeout
 * either lands or finds it expired), announced on the store's change feed
 * (NOTIFY on PostgreSQL), which wakes the node where the use waits.
 */
import { APPROVAL_WAIT, MAX_APPROVAL_WINDOW_SECONDS, type Approval, type ApprovalStatus } from "@coffer/protocol";
import type { AlertService } from "../alert/alert.service.ts";
import type { AuditLog } from "../audit/audit.service.ts";
import { systemEvent } from "../audit/audit.types.ts";
import type { GrantService } from "../access/grant.service.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { newId } from "../crypto/generate.ts";
import { denied } from "../identity/access.ts";
import type { Principal } from "../identity/principal.ts";
import type { SecretRow } from "../secret/secret.repository.ts";
import type { SecretContext, SecretService } from "../secret/secret.service.ts";
import type { Store } from "../store/store.ts";
import { decide, findApproval, findStanding, insertApproval, listApprovals, type ApprovalRow } from "./approval.repository.ts";

/** What a waiting use is for: the audit and the person deciding see it. */
export type UseAction = "relay" | "hmac-sign";
const LIST_LIMIT = 200;
const REASON_MAX = 500;
const GRANTABLE = new Set(["see", "use"]);

export interface ApprovalOptions {
  /** How long a use waits for a decision, in seconds (--approval-timeout); at most APPROVAL_WAIT.maxSeconds. */
  waitSeconds?: number | undefined;
  log?: (message: string) => void;
}

/** What the services that use a value ask before they do (the relay, HMAC signing). */
export type ApprovalGate = Pick<ApprovalService, "awaitUse">;

/** A decision: approve this once, approve this token's uses for `forSeconds`, or deny. */
export interface Decision {
  approve: boolean;
  forSeconds?: number | undefined;
}

export class ApprovalService {
  #store: Store;
  #clock: Clock;
  #secrets: SecretService;
  #grants: GrantService;
  #alerts: AlertService;
  #audit: AuditLog | null;
  #waitMs: number;
  #log: (message: string) => void;
  /** Waiting uses on this node, by approval id: woken by the change feed. */
  #waiting = new Map<string, () => void>();
  #unsubscribe: () => void;

  constructor(store: Store, clock: Clock, secrets: SecretService, grants: GrantService, alerts: AlertService, audit: AuditLog | null, options: ApprovalOptions = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#secrets = secrets;
    this.#grants = grants;
    this.#alerts = alerts;
    this.#audit = audit;
    this.#waitMs = checkWait(options.waitSeconds ?? APPROVAL_WAIT.defaultSeconds) * 1000;
    this.#log = options.log ?? (() => {});
    this.#unsubscribe = store.changes.subscribe((change) => {
      if (change.kind === "approval") this.#waiting.get(change.id)?.();
      // A lost feed may have lost a decision: every waiting use looks again.
      else if (change.kind === "all") for (const wake of this.#waiting.values()) wake();
    });
  }

  get waitSeconds(): number {
    return this.#waitMs / 1000;
  }

  /** Whether this caller's use of this secret needs a person's approval. */
  required(principal: Principal, row: Pick<SecretRow, "approval">): boolean {
    if (row.approval === "all") return true;
    return row.approval === "agents" && typeof principal.labels?.agent === "string";
  }

  /**
   * Returns when the use may go ahead: no approval needed, a standing one, or
   * a person approved it while it waited. Throws APPROVAL_DENIED on a denial
   * or when no decision came in time.
   */
  async awaitUse(ctx: SecretContext, row: SecretRow, action: UseAction): Promise<void> {
    const principal = ctx.principal;
    if (!this.required(principal, row)) return;
    if (await findStanding(this.#store.db, row.id, principal.tokenId, this.#clock())) return;
    const approval = await this.#open(principal, row, "use", action, "");
    const status = await this.#wait(approval);
    if (status === "approved") return;
    throw new CofferError(
      "APPROVAL_DENIED",
      status === "denied"
        ? `using secret '${row.name}' needs a person's approval, and it was denied (request ${approval.id})`
        : `using secret '${row.name}' needs a person's approval, and none came within ${this.#waitMs / 1000} s (request ${approval.id}); ask someone who manages it to approve: coffer approvals list`,
    );
  }

  /** An agent asks for a grant (see or use) on a secret it can name; a person decides later. Answers the request at once. */
  async requestGrant(ctx: SecretContext, ref: string, level: string, reason: string): Promise<Approval> {
    if (!GRANTABLE.has(level)) throw invalid("a request asks for 'see' or 'use'; higher levels are granted by sharing");
    if (reason.length > REASON_MAX) throw invalid(`reason is at most ${REASON_MAX} characters`);
    const row = await this.#secrets.authorize(ctx, ref, "see");
    return viewOf(await this.#open(ctx.principal, row, "grant", level, reason));
  }

  /** The requests on secrets the caller manages, newest first: pending only, unless `status` says otherwise. */
  async list(ctx: SecretContext, status: ApprovalStatus | "all" = "pending"): Promise<Approval[]> {
    const rows = await listApprovals(this.#store.db, ctx.access.workspace.id, status === "all" ? undefined : status, LIST_LIMIT);
    const visible: Approval[] = [];
    for (const row of rows) if (await this.#manages(ctx, row)) visible.push(viewOf(this.#current(row)));
    return visible;
  }

  /** Approves or denies a pending request; whoever manages the secret may, but never with the token that asked. */
  async decide(ctx: SecretContext, id: string, decision: Decision): Promise<Approval> {
    const row = await findApproval(this.#store.db, ctx.access.workspace.id, id);
    if (!row || !(await this.#manages(ctx, row))) throw new CofferError("NOT_FOUND", `no approval request '${id}' that you may decide`);
    if (row.tokenId === ctx.principal.tokenId) throw denied("a request cannot be decided with the token that made it");
    if (ctx.principal.kind !== "user") throw denied("approvals are decided by people, not service accounts");
    const now = this.#clock();
    if (row.status !== "pending" || row.expiresAt <= now) throw invalid(`request '${id}' is ${this.#current(row).status}, no longer pending`);
    if (decision.forSeconds !== undefined && (row.kind !== "use" || !decision.approve)) throw invalid("only an approval of a use can last a while");
    const forSeconds = decision.forSeconds === undefined ? undefined : checkWindow(decision.forSeconds);
    if (row.kind === "grant" && decision.approve) {
      // The grant first: if it fails (the requester left), the request stays pending and says why.
      await this.#grants.set(ctx, row.secretId, `${row.requesterKind === "user" ? "user" : "sa"}:${row.requesterName}`, row.action);
    }
    const change = {
      status: decision.approve ? "approved" : "denied",
      decidedAt: now,
      decidedBy: ctx.principal.id,
      decidedByName: ctx.principal.name,
      validUntil: forSeconds === undefined ? null : now + forSeconds * 1000,
    };
    const decided = await this.#store.db.transaction().execute(async (trx) => {
      if (!(await decide(trx, id, change))) return false;
      await this.#store.changes.announce(trx, { kind: "approval", id });
      return true;
    });
    if (!decided) throw invalid(`request '${id}' was decided elsewhere, or expired, a moment ago`);
    this.#store.changes.apply({ kind: "approval", id });
    return viewOf({ ...row, ...change });
  }

  close(): void {
    this.#unsubscribe();
    for (const wake of this.#waiting.values()) wake();
  }

  async #open(principal: Principal, row: SecretRow, kind: "use" | "grant", action: string, reason: string): Promise<ApprovalRow> {
    const now = this.#clock();
    const labels = principal.labels ?? {};
    const approval: ApprovalRow = {
      id: newId("apr"),
      workspaceId: row.workspaceId,
      secretId: row.id,
      secretName: row.name,
      kind,
      action,
      reason,
      requesterKind: principal.kind,
      requesterId: principal.id,
      requesterName: principal.name,
      tokenId: principal.tokenId,
      labels: JSON.stringify({ ...(labels.agent ? { agent: labels.agent } : {}), ...(labels.session ? { session: labels.session } : {}) }),
      status: "pending",
      createdAt: now,
      // A grant request has no caller waiting: it stays open for a day.
      expiresAt: now + (kind === "use" ? this.#waitMs : MAX_APPROVAL_WINDOW_SECONDS * 1000),
      decidedAt: null,
      decidedBy: null,
      decidedByName: null,
      validUntil: null,
    };
    await insertApproval(this.#store.db, approval);
    const who = labels.agent ? `${principal.name} (agent ${labels.agent})` : principal.name;
    const what = kind === "use" ? `to ${action === "relay" ? "relay a call with" : "sign with"} secret '${row.name}'` : `for '${action}' on secret '${row.name}'`;
    // Raised at once, not from the audit log: someone must look while the call waits.
    await this.#alerts
      .raise({
        type: "approval.requested",
        workspaceId: row.workspaceId,
        message: `${who} asks ${what}; approve or deny: coffer approvals list`,
        details: { approvalId: approval.id, kind, action, secretId: row.id, secretName: row.name, actorId: principal.id, actorName: principal.name, tokenId: principal.tokenId, agent: labels.agent ?? null, session: labels.session ?? null, expiresAt: new Date(approval.expiresAt).toISOString() },
      })
      .catch((error: Error) => this.#log(`approval alert failed: ${error.message}`));
    return approval;
  }

  /** Waits for a decision on this node or any other; at the deadline the request expires (a denial). */
  async #wait(approval: ApprovalRow): Promise<ApprovalStatus> {
    const db = this.#store.db;
    let wake!: () => void;
    let timer: NodeJS.Timeout | undefined;
    try {
      for (;;) {
        const woken = new Promise<void>((resolve) => (wake = resolve));
        this.#waiting.set(approval.id, wake);
        // Read after subscribing, so a decision between the two is not missed.
        const row = await findApproval(db, approval.workspaceId, approval.id);
        if (row && row.status !== "pending") return row.status as ApprovalStatus;
        const left = approval.expiresAt - this.#clock();
        if (left <= 0) break;
        await Promise.race([woken, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
        clearTimeout(timer);
      }
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(approval.id);
    }
    const expired = await decide(db, approval.id, { status: "expired", decidedAt: this.#clock(), decidedBy: null, decidedByName: null, validUntil: null });
    if (!expired) return ((await findApproval(db, approval.workspaceId, approval.id))?.status ?? "expired") as ApprovalStatus;
    await this.#audit?.record({ ...systemEvent(this.#clock(), "approval.expire", approval), subject: approval.id, status: 403, outcome: "denied" }).catch(() => {});
    return "expired";
  }

  async #manages(ctx: SecretContext, row: ApprovalRow): Promise<boolean> {
    try {
      await this.#secrets.authorize(ctx, row.secretId, "manage", { allowDeleted: true });
      return true;
    } catch (error) {
      if (error instanceof CofferError && (error.code === "SECRET_NOT_FOUND" || error.code === "ACCESS_DENIED")) return false;
      throw error;
    }
  }

  /** A pending request past its deadline whose waiter is gone (a node stopped) reads as expired. */
  #current(row: ApprovalRow): ApprovalRow {
    return row.status === "pending" && row.expiresAt <= this.#clock() ? { ...row, status: "expired" } : row;
  }
}

function checkWait(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > APPROVAL_WAIT.maxSeconds) throw new RangeError(`the approval wait is 1 to ${APPROVAL_WAIT.maxSeconds} seconds`);
  return seconds;
}

function checkWindow(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_APPROVAL_WINDOW_SECONDS) throw invalid(`'for' is 1 to ${MAX_APPROVAL_WINDOW_SECONDS} seconds (a day)`);
  return seconds;
}

function viewOf(row: ApprovalRow): Approval {
  const labels = JSON.parse(row.labels) as { agent?: string; session?: string };
  const iso = (time: number | null) => (time === null ? null : new Date(Number(time)).toISOString());
  return {
    id: row.id,
    secretId: row.secretId,
    secretName: row.secretName,
    kind: row.kind as Approval["kind"],
    action: row.action,
    reason: row.reason,
    requester: { kind: row.requesterKind, id: row.requesterId, name: row.requesterName, tokenId: row.tokenId, agent: labels.agent ?? null, session: labels.session ?? null },
    status: row.status as ApprovalStatus,
    createdAt: iso(row.createdAt)!,
    expiresAt: iso(row.expiresAt)!,
    decidedAt: iso(row.decidedAt),
    decidedBy: row.decidedByName,
    validUntil: iso(row.validUntil),
  };
}
