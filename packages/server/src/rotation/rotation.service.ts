/**
 * Workspace rotation defaults: an interval per label ("production" 90 days,
 * "development" 30), for secrets without an interval of their own. Members
 * read them; workspace admins replace them as a whole.
 */
import { LIMITS } from "@coffer/protocol";
import type { Clock } from "../core/clock.ts";
import { invalid } from "../core/errors.ts";
import { requireWorkspaceAdmin } from "../identity/guards.ts";
import type { Principal } from "../identity/principal.ts";
import type { Store } from "../store/store.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import { listDefaults, replaceDefaults } from "./rotation.repository.ts";
import { checkInterval } from "./rotation.rules.ts";

export const MAX_DEFAULTS = 1000;

export interface RotationDefault {
  label: string;
  intervalDays: number;
}

export interface RotationDefaults {
  workspaceId: string;
  defaults: RotationDefault[];
  /** How long a superseded HMAC or INTERNAL_API_KEY version stays valid (server setting). */
  graceDays: number;
}

export class RotationService {
  #store: Store;
  #clock: Clock;
  #workspaces: WorkspaceService;
  #graceDays: number;

  constructor(store: Store, clock: Clock, workspaces: WorkspaceService, graceDays: number) {
    this.#store = store;
    this.#clock = clock;
    this.#workspaces = workspaces;
    this.#graceDays = graceDays;
  }

  async defaults(principal: Principal, workspace: string): Promise<RotationDefaults> {
    const access = await this.#workspaces.access(principal, workspace);
    const rows = await listDefaults(this.#store.db, access.workspace.id);
    return { workspaceId: access.workspace.id, defaults: rows.map(({ label, intervalDays }) => ({ label, intervalDays })), graceDays: this.#graceDays };
  }

  /** Replaces every default of the workspace; schedules of the secrets they apply to follow at once, on every node. */
  async setDefaults(principal: Principal, workspace: string, defaults: RotationDefault[]): Promise<RotationDefaults> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "change rotation defaults");
    if (defaults.length > MAX_DEFAULTS) throw invalid(`at most ${MAX_DEFAULTS} rotation defaults`);
    const labels = new Set<string>();
    for (const { label, intervalDays } of defaults) {
      if (label.length === 0 || label.length > LIMITS.labelLength) throw invalid(`labels are 1 to ${LIMITS.labelLength} characters`);
      if (labels.has(label)) throw invalid(`label '${label}' has two defaults`);
      labels.add(label);
      if (checkInterval(intervalDays) === null) throw invalid("intervalDays is required");
    }
    const workspaceId = access.workspace.id;
    const now = this.#clock();
    await this.#store.db.transaction().execute(async (trx) => {
      await replaceDefaults(trx, workspaceId, defaults.map((d) => ({ workspaceId, label: d.label, intervalDays: d.intervalDays, updatedAt: now, updatedBy: principal.id })));
      await this.#store.changes.announce(trx, { kind: "workspace", id: workspaceId });
    });
    this.#store.changes.apply({ kind: "workspace", id: workspaceId });
    return this.defaults(principal, workspaceId);
  }
}
