/**
 * The alarm of canary secrets: decoys nobody has a reason to read or use, so
 * any read or use of one (which the secret layer reports from the one gate
 * every value passes, secret-rows.ts `release`) is someone looking where
 * they should not. Each one becomes a `canary.triggered` event in the audit
 * log next to the request's own (same request id) and a high-severity
 * `canary.triggered` alert for the workspace's webhooks, both naming the
 * caller, its token, its address and the agent the token's labels and the
 * X-Coffer-* headers name. The caller's answer is unchanged: a canary that
 * refused would warn the thief.
 */
import type { AlertService } from "../alert/alert.service.ts";
import type { AuditLog } from "../audit/audit.service.ts";
import type { AuditEventInput } from "../audit/audit.types.ts";
import type { Clock } from "../core/clock.ts";
import type { RequestOrigin } from "../core/request-origin.ts";
import type { CanaryTrigger, SecretWatch } from "../secret/secret.types.ts";

export const CANARY_ACTION = "canary.triggered";

/** The origin of a read no request made (a tool using the core directly). */
const NO_ORIGIN: RequestOrigin = { ip: "", userAgent: "", requestId: "", route: "", claimed: {} };

export class CanaryAlarm implements SecretWatch {
  #audit: AuditLog | null;
  #alerts: AlertService;
  #clock: Clock;
  #log: (message: string) => void;

  /** `audit` null: the audit log is off, and the alert is the only record. */
  constructor(audit: AuditLog | null, alerts: AlertService, clock: Clock, log: (message: string) => void) {
    this.#audit = audit;
    this.#alerts = alerts;
    this.#clock = clock;
    this.#log = log;
  }

  canaryTouched({ ctx, secret, use }: CanaryTrigger): void {
    const origin = ctx.from?.origin() ?? NO_ORIGIN;
    const { principal } = ctx;
    const labels = principal.labels ?? {};
    const agent = labels.agent ?? origin.claimed.agent ?? null;
    const session = labels.session ?? origin.claimed.session ?? null;
    const event: AuditEventInput = {
      time: this.#clock(),
      actorKind: principal.kind,
      actorId: principal.id,
      actorName: principal.name,
      tokenId: principal.tokenId,
      action: CANARY_ACTION,
      outcome: "ok",
      // Recorded while the request is served, before its answer has a status.
      status: 0,
      workspaceId: secret.workspaceId,
      secretId: secret.id,
      secretName: secret.name,
      subject: [`use=${use}`, ...(agent ? [`agent=${agent}`] : []), ...(session ? [`session=${session}`] : []), ...(origin.claimed.tool ? [`tool=${origin.claimed.tool}`] : [])].join(" "),
      ip: origin.ip,
      userAgent: origin.userAgent,
      requestId: origin.requestId,
    };
    this.#audit?.record(event, false).catch((error: Error) => this.#log(`canary: the audit event of '${secret.name}' failed: ${error.message}`));
    const who = `${principal.name}${agent ? ` (agent ${agent})` : ""}`;
    this.#alerts
      .raise({
        type: "canary.triggered",
        workspaceId: secret.workspaceId,
        message: `canary secret '${secret.name}' was ${use === "read" ? "read" : use === "relay" ? "used in a relayed call" : "used to sign or verify"} by ${who}${origin.ip ? ` from ${origin.ip}` : ""}`,
        details: {
          severity: "high",
          secretId: secret.id,
          secretName: secret.name,
          use,
          actorKind: principal.kind,
          actorId: principal.id,
          actorName: principal.name,
          tokenId: principal.tokenId,
          // The token's labels are set by whoever minted it; the headers are the caller's own claim.
          tokenAgent: labels.agent ?? null,
          tokenSession: labels.session ?? null,
          claimedAgent: origin.claimed.agent ?? null,
          claimedSession: origin.claimed.session ?? null,
          claimedTool: origin.claimed.tool ?? null,
          ip: origin.ip || null,
          userAgent: origin.userAgent || null,
          route: origin.route || null,
          requestId: origin.requestId || null,
        },
      })
      .catch((error: Error) => this.#log(`canary: the alert of '${secret.name}' failed: ${error.message}`));
  }
}
