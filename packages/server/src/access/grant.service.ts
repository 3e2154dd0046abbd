/**
 * Sharing: grants of one level on one secret to a user, a group or a service
 * account of the workspace. Only a caller who may manage the secret shares it.
 */
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { LEVELS, type Level } from "../identity/access.ts";
import type { SecretContext, SecretService } from "../secret/secret.service.ts";
import type { Store } from "../store/store.ts";
import { changeAccess } from "./access.service.ts";
import { deleteGrant, findSubject, labelSubjects, listGrantsOfSecret, upsertGrant } from "./access.repository.ts";

export interface GrantView {
  subject: string;
  subjectId: string;
  level: Level;
  createdAt: number;
}

export class GrantService {
  #store: Store;
  #clock: Clock;
  #secrets: SecretService;

  constructor(store: Store, clock: Clock, secrets: SecretService) {
    this.#store = store;
    this.#clock = clock;
    this.#secrets = secrets;
  }

  async list(ctx: SecretContext, ref: string): Promise<GrantView[]> {
    const secret = await this.#secrets.authorize(ctx, ref, "manage");
    const rows = await listGrantsOfSecret(this.#store.db, secret.id);
    const labels = await labelSubjects(this.#store.db, rows.map((row) => row.subjectId));
    return rows.map((row) => ({ subject: labels.get(row.subjectId) ?? row.subjectId, subjectId: row.subjectId, level: row.level as Level, createdAt: row.createdAt }));
  }

  async set(ctx: SecretContext, ref: string, subjectRef: string, level: string): Promise<GrantView> {
    if (!Object.hasOwn(LEVELS, level) || level === "none") throw invalid("level must be one of see, use, read, write, manage");
    const secret = await this.#secrets.authorize(ctx, ref, "manage");
    if (secret.scope === "personal") throw invalid("personal secrets cannot be shared");
    const subject = await this.#subject(ctx, subjectRef);
    const now = this.#clock();
    await changeAccess(this.#store, ctx.access.workspace.id, (trx) =>
      upsertGrant(trx, { secretId: secret.id, workspaceId: secret.workspaceId, subjectId: subject.id, level, createdAt: now, createdBy: ctx.principal.id }),
    );
    return { subject: subject.label, subjectId: subject.id, level: level as Level, createdAt: now };
  }

  async remove(ctx: SecretContext, ref: string, subjectRef: string): Promise<void> {
    const secret = await this.#secrets.authorize(ctx, ref, "manage");
    const subject = await this.#subject(ctx, subjectRef);
    const result = await changeAccess(this.#store, ctx.access.workspace.id, (trx) => deleteGrant(trx, secret.id, subject.id));
    if (Number(result.numDeletedRows) === 0) throw new CofferError("NOT_FOUND", `${subject.label} has no grant on this secret`);
  }

  async #subject(ctx: SecretContext, ref: string) {
    const subject = await findSubject(this.#store.db, ctx.access.workspace.id, ref);
    if (!subject) throw new CofferError("NOT_FOUND", `no user, group or service account '${ref}' in this workspace (use user:NAME, group:NAME or sa:NAME)`);
    return subject;
  }

}
