/**
 * Approvals: a person in the loop for secrets that need one. A relayed call
 * or signature on such a secret waits on the server until someone who
 * manages it approves (once, or for that token for a while) or denies; these
 * are the calls that person (or their tooling) makes. docs/agents.md.
 */
import type { Approval, ApprovalStatus } from "@coffer/protocol";

export type { Approval, ApprovalStatus };

/** What approvals need of a Coffer client (not an import of it: index.ts imports this module). */
interface ApprovalCaller {
  call<T>(route: "listApprovals" | "requestApproval" | "approve" | "deny", params: Record<string, string>, options?: { query?: Record<string, string | undefined>; body?: unknown }): Promise<T>;
}

export class Approvals {
  #coffer: ApprovalCaller;

  constructor(coffer: ApprovalCaller) {
    this.#coffer = coffer;
  }

  /** Requests on the secrets you manage, newest first: pending ones unless `status` says otherwise. */
  async list(options: { status?: ApprovalStatus | "all" } = {}): Promise<Approval[]> {
    return (await this.#coffer.call<{ approvals: Approval[] }>("listApprovals", {}, { query: { status: options.status } })).approvals;
  }

  /** Lets the waiting use go ahead; with `forSeconds`, every use of that secret by the same token until then too. */
  approve(id: string, options: { forSeconds?: number } = {}): Promise<Approval> {
    return this.#coffer.call("approve", { id }, { body: options.forSeconds === undefined ? {} : { for: options.forSeconds } });
  }

  /** The waiting use fails with APPROVAL_DENIED. */
  deny(id: string): Promise<Approval> {
    return this.#coffer.call("deny", { id });
  }

  /** Asks a person for a grant (see or use) on a secret you can name; answers the pending request at once. */
  request(secret: string, level: "see" | "use", reason?: string): Promise<Approval> {
    return this.#coffer.call("requestApproval", {}, { body: { secret, level, ...(reason ? { reason } : {}) } });
  }
}
