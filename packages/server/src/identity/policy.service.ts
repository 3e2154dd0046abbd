/**
 * Vault ACL policies, stored per workspace (acl-policy.ts says what they
 * may contain). Workspace owners and admins manage them with a full token;
 * a change reaches every token that names the policy at once, on every
 * node: it is announced as a token change, which drops cached principals.
 */
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import type { Store } from "../store/store.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import { checkPolicyName, compileAcl, parsePolicy, type Acl } from "./acl-policy.ts";
import { requireWorkspaceAdmin } from "./guards.ts";
import type { Principal } from "./principal.ts";
import { deletePolicy, findPolicies, findPolicy, listPolicyNames, upsertPolicy } from "./policy.repository.ts";
import type { Database } from "../store/store.ts";

/** Vault's built-in policy every token carries: token self-service, which Coffer always allows, and nothing of the KV engine. */
export const DEFAULT_POLICY = "default";
const MAX_POLICY_BYTES = 64 * 1024;

export class PolicyService {
  #store: Store;
  #clock: Clock;
  #workspaces: WorkspaceService;

  constructor(store: Store, clock: Clock, workspaces: WorkspaceService) {
    this.#store = store;
    this.#clock = clock;
    this.#workspaces = workspaces;
  }

  async list(principal: Principal, workspace: string): Promise<string[]> {
    const { id } = await this.#administered(principal, workspace, "list policies");
    const stored = (await listPolicyNames(this.#store.db, id)).map((row) => row.name);
    return stored.includes(DEFAULT_POLICY) ? stored : [DEFAULT_POLICY, ...stored].sort();
  }

  async read(principal: Principal, workspace: string, name: string): Promise<{ name: string; policy: string }> {
    const { id } = await this.#administered(principal, workspace, "read policies");
    const row = await findPolicy(this.#store.db, id, name);
    if (row) return { name, policy: row.policy };
    if (name === DEFAULT_POLICY) return { name, policy: "" };
    throw new CofferError("NOT_FOUND", `no policy '${name}'`);
  }

  /** Checks every rule (refusing, with the rule and the reason, what Coffer cannot enforce) and stores the text as written. */
  async write(principal: Principal, workspace: string, name: string, policy: string): Promise<void> {
    const ws = await this.#administered(principal, workspace, "write policies");
    checkPolicyName(name);
    if (Buffer.byteLength(policy) > MAX_POLICY_BYTES) throw invalid(`a policy is at most ${MAX_POLICY_BYTES} bytes`);
    parsePolicy(policy, ["secret", ws.name]);
    await this.#commit((trx) => upsertPolicy(trx, { workspaceId: ws.id, name, policy, now: this.#clock() }), name);
  }

  async remove(principal: Principal, workspace: string, name: string): Promise<void> {
    const { id } = await this.#administered(principal, workspace, "delete policies");
    if (name === "root") throw invalid("the root policy is built in and cannot be deleted");
    // Vault answers 204 for a policy that is not there.
    await this.#commit((trx) => deletePolicy(trx, id, name), name);
  }

  /**
   * The id of the workspace whose policies `names` are, each checked: a typo
   * must not mint a token that can do nothing, or more.
   */
  async checkNames(principal: Principal, workspace: string, names: string[]): Promise<string> {
    const workspaceId = (await this.#workspaces.access(principal, workspace)).workspace.id;
    for (const name of names) if (name === "root") throw invalid("Coffer tokens cannot carry the root policy; create them without policies from an administrator's token");
    const wanted = names.filter((name) => name !== DEFAULT_POLICY);
    if (wanted.length === 0) return workspaceId;
    const found = new Set((await findPolicies(this.#store.db, workspaceId, wanted)).map((row) => row.name));
    const missing = wanted.find((name) => !found.has(name));
    if (missing !== undefined) throw invalid(`no policy '${missing}' in this workspace: write it first (sys/policies/acl/${missing})`);
    return workspaceId;
  }

  async #administered(principal: Principal, workspace: string, what: string) {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, what);
    return access.workspace;
  }

  async #commit(write: (trx: Database) => Promise<unknown>, name: string): Promise<void> {
    await this.#store.db.transaction().execute(async (trx) => {
      await write(trx);
      await this.#store.changes.announce(trx, { kind: "token", id: `policy:${name}` });
    });
    this.#store.changes.apply({ kind: "token", id: `policy:${name}` });
  }
}

/** The compiled ACL of a token's policies, read when the token is loaded; a policy deleted since grants nothing. */
export async function aclOf(db: Database, workspaceId: string | null, names: string[]): Promise<Acl> {
  const rows = workspaceId === null ? [] : await findPolicies(db, workspaceId, names);
  return compileAcl(rows.map((row) => parsePolicy(row.policy, null)));
}
