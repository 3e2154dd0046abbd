/** The unused-secrets report: what a workspace's admins could retire. */
import { DAY_MS, type Clock } from "../core/clock.ts";
import { requireWorkspaceAdmin } from "../identity/guards.ts";
import type { Principal } from "../identity/principal.ts";
import type { SecretService } from "../secret/secret.service.ts";
import type { Store } from "../store/store.ts";
import { checkAlertDays, type WorkspaceService } from "../workspace/workspace.service.ts";
import { unusedSecrets } from "./lifecycle.repository.ts";

/** Idle days that make a secret unused when neither the request nor the workspace says. */
export const DEFAULT_UNUSED_DAYS = 90;

export interface UnusedSecret {
  id: string;
  name: string;
  label: string;
  type: string;
  createdAt: number;
  /** null: never read or used since it was created. */
  lastUsedAt: number | null;
}

export class LifecycleService {
  #store: Store;
  #secrets: SecretService;
  #workspaces: WorkspaceService;
  #clock: Clock;

  constructor(store: Store, secrets: SecretService, workspaces: WorkspaceService, clock: Clock) {
    this.#store = store;
    this.#secrets = secrets;
    this.#workspaces = workspaces;
    this.#clock = clock;
  }

  /** Shared secrets not read or used for `days` (default: the workspace's unusedAlertDays, else 90); owners and admins. */
  async unused(principal: Principal, workspace: string, days?: number): Promise<{ days: number; secrets: UnusedSecret[] }> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "list unused secrets");
    const idleDays = days === undefined ? (access.workspace.unusedAlertDays ?? DEFAULT_UNUSED_DAYS) : checkAlertDays("days", days);
    await this.#secrets.flushUsage();
    return { days: idleDays, secrets: await unusedSecrets(this.#store.db, access.workspace.id, this.#clock() - idleDays * DAY_MS, false) };
  }
}
