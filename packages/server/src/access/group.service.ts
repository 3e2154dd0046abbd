/**
 * Groups of a workspace: users and service accounts that secrets are shared
 * with together. The built-in `everyone` holds every member implicitly, so
 * workspace-wide sharing is one grant; it cannot be edited or removed.
 */
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { newId } from "../crypto/generate.ts";
import { requireWorkspaceAdmin } from "../identity/guards.ts";
import type { Principal } from "../identity/principal.ts";
import type { Store } from "../store/store.ts";
import { changeAccess } from "./access.service.ts";
import { insertGroup } from "../workspace/workspace.repository.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import {
  addGroupMember,
  deleteGroup,
  findGroup,
  findSubject,
  labelSubjects,
  listGroupMembers,
  listGroups,
  removeGroupMember,
} from "./access.repository.ts";

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface GroupView {
  id: string;
  name: string;
  builtin: boolean;
  members: string[];
  createdAt: number;
}

export class GroupService {
  #store: Store;
  #clock: Clock;
  #workspaces: WorkspaceService;

  constructor(store: Store, clock: Clock, workspaces: WorkspaceService) {
    this.#store = store;
    this.#clock = clock;
    this.#workspaces = workspaces;
  }

  // Who belongs to which group is the roster: as private as the member list.
  async list(principal: Principal, workspace: string): Promise<GroupView[]> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "list groups");
    const groups = await listGroups(this.#store.db, access.workspace.id);
    return Promise.all(groups.map((group) => this.#view(group)));
  }

  async get(principal: Principal, workspace: string, ref: string): Promise<GroupView> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "read groups");
    return this.#view(await this.#find(access.workspace.id, ref));
  }

  async create(principal: Principal, workspace: string, name: string): Promise<GroupView> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "create groups");
    if (!NAME.test(name)) throw invalid("group names are 1-64 lower-case letters, digits, '.', '_' or '-'");
    if (await findGroup(this.#store.db, access.workspace.id, name)) throw new CofferError("ALREADY_EXISTS", `a group named '${name}' already exists`);
    const row = { id: newId("grp"), workspaceId: access.workspace.id, name, builtin: 0, createdAt: this.#clock() };
    await insertGroup(this.#store.db, row);
    return this.#view(row);
  }

  async remove(principal: Principal, workspace: string, ref: string): Promise<void> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "remove groups");
    const group = this.#editable(await this.#find(access.workspace.id, ref));
    await changeAccess(this.#store, access.workspace.id, (trx) => deleteGroup(trx, group.id));
  }

  async addMember(principal: Principal, workspace: string, ref: string, memberRef: string): Promise<GroupView> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "change groups");
    const group = this.#editable(await this.#find(access.workspace.id, ref));
    const member = await findSubject(this.#store.db, access.workspace.id, memberRef);
    if (!member || member.label.startsWith("group:")) {
      throw new CofferError("NOT_FOUND", `no member '${memberRef}' in this workspace (use user:NAME or sa:NAME)`);
    }
    await changeAccess(this.#store, access.workspace.id, (trx) => addGroupMember(trx, group.id, member.id, this.#clock()));
    return this.#view(group);
  }

  async removeMember(principal: Principal, workspace: string, ref: string, memberRef: string): Promise<GroupView> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "change groups");
    const group = this.#editable(await this.#find(access.workspace.id, ref));
    const member = await findSubject(this.#store.db, access.workspace.id, memberRef);
    const removed = member
      ? await changeAccess(this.#store, access.workspace.id, (trx) => removeGroupMember(trx, group.id, member.id))
      : undefined;
    if (!removed || Number(removed.numDeletedRows) === 0) throw new CofferError("NOT_FOUND", `'${memberRef}' is not in group '${group.name}'`);
    return this.#view(group);
  }

  async #find(workspaceId: string, ref: string) {
    const group = await findGroup(this.#store.db, workspaceId, ref);
    if (!group) throw new CofferError("NOT_FOUND", `no group '${ref}'`);
    return group;
  }

  #editable<T extends { builtin: number; name: string }>(group: T): T {
    if (group.builtin) throw invalid(`'${group.name}' is built in: it always holds every member`);
    return group;
  }

  async #view(group: { id: string; name: string; builtin: number; createdAt: number }): Promise<GroupView> {
    const ids = (await listGroupMembers(this.#store.db, group.id)).map((row) => row.memberId);
    const labels = await labelSubjects(this.#store.db, ids);
    return { id: group.id, name: group.name, builtin: group.builtin === 1, members: ids.map((id) => labels.get(id) ?? id), createdAt: group.createdAt };
  }

}
