/** Approvals: a person in the loop for a secret's uses (docs/agents.md). Wire shapes shared by the server and its clients. */

/** Who must be approved before each use of a secret: nobody, agent tokens (an `agent` label), or every `use`-level caller. */
export const APPROVAL_SETTINGS = ["none", "agents", "all"] as const;
export type ApprovalSetting = (typeof APPROVAL_SETTINGS)[number];

export const APPROVAL_STATUSES = ["pending", "approved", "denied", "expired"] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** How long a waiting use waits by default, and at most (the server's --approval-timeout is capped by it). */
export const APPROVAL_WAIT = { defaultSeconds: 60, maxSeconds: 600 } as const;
/** The longest "approve for a while": a day. */
export const MAX_APPROVAL_WINDOW_SECONDS = 86_400;

export interface Approval {
  id: string;
  secretId: string;
  secretName: string;
  /** "use": a relayed call or signature is waiting; "grant": someone asks for a level on the secret. */
  kind: "use" | "grant";
  /** use: relay | hmac-sign; grant: the level asked for. */
  action: string;
  reason: string;
  requester: { kind: string; id: string; name: string; tokenId: string; agent: string | null; session: string | null };
  status: ApprovalStatus;
  createdAt: string;
  /** When a pending request is denied by itself. */
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  /** Approved for a while: later uses by the same token pass until then. */
  validUntil: string | null;
}
