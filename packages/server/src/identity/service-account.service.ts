/** Service accounts: machine identities of one workspace, for agents and pipelines; they reach secrets through grants. */
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { newId } from "../crypto/generate.ts";
import type { Store } from "../store/store.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import { requireWorkspaceAdmin } from "./guards.ts";
import type { Principal } from "./principal.ts";
import { disableServiceAccount, findServiceAccount, insertServiceAccount, listServiceAccounts } from "./service-account.repository.ts";
import { revokeTree, tokenIdsOf } from "./token.repository.ts";

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface ServiceAccountView {
  id: string;
  name: string;
  description: string;
  createdAt: number;
}

export class ServiceAccountService {
  #store: Store;
  #clock: Clock;
  #workspaces: WorkspaceService;

  constructor(store: Store, clock: Clock, workspaces: WorkspaceService) {
    this.#store = store;
    this.#clock = clock;
    this.#workspaces = workspaces;
  }

  async list(principal: Principal, workspace: string): Promise<ServiceAccountView[]> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "list service accounts");
    return (await listServiceAccounts(this.#store.db, access.workspace.id)).map(view);
  }

  async create(principal: Principal, workspace: string, input: { name: string; description?: string | undefined }): Promise<ServiceAccountView> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "create service accounts");
    if (!NAME.test(input.name)) throw invalid("service account names are 1-64 lower-case letters, digits, '.', '_' or '-'");
    const description = input.description ?? "";
    if (description.length > 256) throw invalid("descriptions are at most 256 characters");
    if (await findServiceAccount(this.#store.db, access.workspace.id, input.name)) {
      throw new CofferError("ALREADY_EXISTS", `a service account named '${input.name}' already exists`);
    }
    const row = { id: newId("sa"), workspaceId: access.workspace.id, name: input.name, description, disabledAt: null, createdAt: this.#clock() };
    await insertServiceAccount(this.#store.db, row);
    return view(row);
  }

  /** Disables the account and revokes its tokens at once, on every node. */
  async remove(principal: Principal, workspace: string, ref: string): Promise<void> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "remove service accounts");
    const account = await findServiceAccount(this.#store.db, access.workspace.id, ref);
    if (!account || account.disabledAt !== null) throw new CofferError("NOT_FOUND", `no service account '${ref}'`);
    const now = this.#clock();
    await this.#store.db.transaction().execute(async (trx) => {
      await disableServiceAccount(trx, account.id, now);
      await revokeTree(trx, await tokenIdsOf(trx, account.id), now);
      await this.#store.changes.announce(trx, { kind: "user", id: account.id });
    });
    this.#store.changes.apply({ kind: "user", id: account.id });
  }
}

function view(row: { id: string; name: string; description: string; createdAt: number }): ServiceAccountView {
  return { id: row.id, name: row.name, description: row.description, createdAt: row.createdAt };
}
