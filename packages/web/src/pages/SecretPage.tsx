/** One secret: metadata, keys (write-only: ••••, Replace), version history with roll back, delete and restore, sharing. */
import type { SecretScope } from "@coffer/protocol";
import { useRef, useState, type FormEvent } from "react";
import { atLeast, useAction, useLoad, type Metadata, type Rotation, type SecretVersionInfo } from "../api.ts";
import { Confirm, Dialog, Empty, ErrorNote, Loading, age, time } from "../components/ui.tsx";
import { ValueRows, type RowsHandle } from "../components/ValueRows.tsx";
import { Link } from "../router.tsx";
import { folderOf, listUrl } from "../secret-list.ts";
import { useSession } from "../session.tsx";
import { Sharing } from "./Sharing.tsx";
import { RelayPolicyCard } from "../components/RelayPolicyCard.tsx";
import { SecretUsage } from "../components/SecretUsage.tsx";

export function RotationBadge({ rotation }: { rotation: Rotation | undefined }) {
  if (!rotation) return <span className="muted">—</span>;
  const text = rotation.status === "ok" ? `every ${rotation.intervalDays} d` : rotation.status === "due" ? "due" : "overdue";
  return (
    <span className={`badge rotation-${rotation.status}`} title={`Due ${time(rotation.dueAt)}`}>
      {text}
    </span>
  );
}

/** Back to the list where this secret is: its folder, or the Deleted tab. */
function BackLink({ scope, name, deleted }: { scope: SecretScope; name: string; deleted: boolean }) {
  const folder = deleted ? "" : folderOf(name);
  return (
    <Link to={listUrl({ view: deleted ? "deleted" : scope, folder, sort: "name", order: "asc" })} aria-label={folder ? `Back to ${folder}` : undefined}>
      ← {folder ? folder : "Secrets"}
    </Link>
  );
}

type Edit = { kind: "replace"; key: string } | { kind: "add" } | { kind: "remove"; key: string } | { kind: "rollback"; version: number } | { kind: "delete" } | null;

export function SecretPage({ scope, name }: { scope: SecretScope; name: string }) {
  const { client, workspace } = useSession();
  const meta = useLoad(() => client.call<Metadata>("readMetadata", { secret: name }, { query: { scope } }), [client, name, scope]);
  const versions = useLoad(
    () => client.call<{ versions: SecretVersionInfo[] }>("listVersions", { secret: name }, { query: { scope } }).then((r) => r.versions),
    [client, name, scope],
  );
  const [edit, setEdit] = useState<Edit>(null);
  const [notice, setNotice] = useState("");
  const action = useAction();
  const secret = meta.data;

  const done = (message: string) => {
    setEdit(null);
    setNotice(message);
    meta.reload();
    versions.reload();
  };
  const close = () => {
    action.clear();
    setEdit(null);
  };

  if (meta.error) {
    return (
      <section>
        <p>
          <BackLink scope={scope} name={name} deleted={false} />
        </p>
        <ErrorNote error={meta.error} />
      </section>
    );
  }
  if (!secret) return <Loading />;
  const canWrite = atLeast(secret.access, "write") && !secret.deletedAt;
  const canManage = atLeast(secret.access, "manage");
  const deleted = Boolean(secret.deletedAt);

  const patch = (data: Record<string, string | null>, message: string) =>
    action.run(() => client.call("patchSecret", { secret: name }, { query: { scope }, body: { data, cas: secret.version } })).then((r) => r && done(message));

  return (
    <section aria-labelledby="secret-title">
      <p>
        <BackLink scope={scope} name={name} deleted={deleted} />
      </p>
      <div className="page-head">
        <h1 id="secret-title" className="secret-name">
          {secret.name}
        </h1>
        <div className="actions">
          {deleted ? (
            <button type="button" className="primary" disabled={!atLeast(secret.access, "write") || action.pending} onClick={() => void action.run(() => client.secrets.restore(name, { scope })).then((r) => r && done("Restored."))}>
              Restore
            </button>
          ) : (
            canWrite && (
              <button type="button" className="danger" onClick={() => setEdit({ kind: "delete" })}>
                Delete
              </button>
            )
          )}
        </div>
      </div>
      {deleted && <p className="banner">This secret was deleted {time(secret.deletedAt)}. Restore it to use it again.</p>}
      <p className="status" role="status">
        {notice}
      </p>
      {!edit && <ErrorNote error={action.error} />}

      <dl className="meta">
        <dt>Type</dt>
        <dd>{secret.type}</dd>
        <dt>Label</dt>
        <dd>{secret.label || "—"}</dd>
        <dt>Scope</dt>
        <dd>{secret.scope === "personal" ? "Personal (yours alone)" : "Shared"}</dd>
        <dt>Version</dt>
        <dd>{secret.version}</dd>
        <dt>Value age</dt>
        <dd>
          {age(secret.ageDays)} (written {time(secret.updatedAt)})
        </dd>
        <dt>Rotation</dt>
        <dd>
          <RotationBadge rotation={secret.rotation} />
        </dd>
        <dt>Your access</dt>
        <dd>{secret.access}</dd>
        <dt>Id</dt>
        <dd>
          <code>{secret.id}</code>
        </dd>
      </dl>

      <h2>Keys</h2>
      <ul className="keylist">
        {secret.keys.map((key) => (
          <li key={key}>
            <code className="key">{key}</code>
            <span className="masked" aria-label="value hidden">
              ••••
            </span>
            {canWrite && (
              <span className="actions">
                <button type="button" onClick={() => setEdit({ kind: "replace", key })}>
                  Replace
                </button>
                {secret.keys.length > 1 && (
                  <button type="button" className="quiet" aria-label={`Remove key ${key}`} onClick={() => setEdit({ kind: "remove", key })}>
                    Remove
                  </button>
                )}
              </span>
            )}
          </li>
        ))}
      </ul>
      {canWrite && (
        <button type="button" onClick={() => setEdit({ kind: "add" })}>
          + Add key
        </button>
      )}
      <p className="hint">Values are write-only here: replace them, never read them. Programs read them with a token (SDK, CLI, API).</p>

      {!deleted && <SecretUsage target={{ name: secret.name, keys: secret.keys, scope: secret.scope, workspace }} />}

      <h2>Version history</h2>
      <ErrorNote error={versions.error} />
      {versions.data && <History versions={versions.data} canRollback={canWrite} onRollback={(version) => setEdit({ kind: "rollback", version })} />}

      {!deleted && <RelayPolicyCard name={name} scope={scope} canManage={canManage} />}

      {scope === "shared" && canManage && !deleted && <Sharing name={name} />}

      {edit?.kind === "replace" && (
        <ValueDialog title={`Replace the value of ${edit.key}`} keys={[edit.key]} fixedKeys pending={action.pending} error={action.error} onClose={close} onSave={(data) => patch(data, `Replaced ${edit.key}: version ${secret.version + 1}.`)} />
      )}
      {edit?.kind === "add" && <ValueDialog title="Add a key" keys={[""]} pending={action.pending} error={action.error} onClose={close} onSave={(data) => patch(data, "Key added.")} />}
      {edit?.kind === "remove" && (
        <Confirm title={`Remove key ${edit.key}?`} confirm="Remove key" danger pending={action.pending} error={action.error} onClose={close} onConfirm={() => void patch({ [edit.key]: null }, `Removed ${edit.key}.`)}>
          A new version without <code>{edit.key}</code> is written; the old versions keep it until they are pruned.
        </Confirm>
      )}
      {edit?.kind === "rollback" && (
        <Confirm
          title={`Roll back to version ${edit.version}?`}
          confirm="Roll back"
          pending={action.pending}
          error={action.error}
          onClose={close}
          onConfirm={() =>
            void action
              .run(() => client.call("rollback", { secret: name }, { query: { scope }, body: { version: edit.version, cas: secret.version } }))
              .then((r) => r && done(`Rolled back: version ${secret.version + 1} equals version ${edit.version}.`))
          }
        >
          Writes a new version {secret.version + 1} with the values of version {edit.version}. Nothing is lost: you can roll forward the same way.
        </Confirm>
      )}
      {edit?.kind === "delete" && (
        <Confirm
          title={`Delete ${secret.name}?`}
          confirm="Delete"
          danger
          pending={action.pending}
          error={action.error}
          onClose={close}
          onConfirm={() =>
            void action
              .run(async () => {
                await client.secrets.delete(name, { scope });
                return true;
              })
              .then((r) => r && done("Deleted. It stays restorable under Deleted."))
          }
        >
          Programs reading it get SECRET_NOT_FOUND from now on. It stays restorable from the Deleted list.
        </Confirm>
      )}
    </section>
  );
}

/** Who wrote each version: ids made readable with the names the caller may list (admins: members and service accounts). */
function useAuthorNames(): (id: string) => string {
  const { client, session, isAdmin } = useSession();
  const names = useLoad(async () => {
    const map = new Map<string, string>([[session.user.id, `${session.user.username} (you)`]]);
    if (!isAdmin) return map;
    const [members, accounts] = await Promise.all([
      client.call<{ members: { userId: string; username: string }[] }>("listMembers", {}),
      client.call<{ serviceAccounts: { id: string; name: string }[] }>("listServiceAccounts", {}),
    ]);
    for (const m of members.members) if (!map.has(m.userId)) map.set(m.userId, m.username);
    for (const a of accounts.serviceAccounts) map.set(a.id, `sa:${a.name}`);
    return map;
  }, [client, session, isAdmin]);
  return (id) => names.data?.get(id) ?? id;
}

function History({ versions, canRollback, onRollback }: { versions: SecretVersionInfo[]; canRollback: boolean; onRollback: (version: number) => void }) {
  const nameOf = useAuthorNames();
  if (versions.length === 0) return <Empty title="No versions kept" />;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Written</th>
            <th scope="col">By</th>
            <th scope="col">Keys</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version}>
              <td data-label="Version">
                {v.version} {v.current && <span className="badge">current</span>}
              </td>
              <td data-label="Written">{time(v.createdAt)}</td>
              <td data-label="By">{nameOf(v.createdBy)}</td>
              <td data-label="Keys">{v.keys.join(", ")}</td>
              <td>
                {canRollback && !v.current && readable(v) && (
                  <button type="button" onClick={() => onRollback(v.version)}>
                    Roll back to {v.version}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ValueDialog({ title, keys, fixedKeys, pending, error, onClose, onSave }: {
  title: string;
  keys: string[];
  fixedKeys?: boolean;
  pending: boolean;
  error: unknown;
  onClose: () => void;
  onSave: (data: Record<string, string>) => void;
}) {
  const rows = useRef<RowsHandle>(null);
  const [problem, setProblem] = useState<string>();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const read = rows.current!.read();
    if ("problem" in read) return setProblem(read.problem);
    if (read.filled === 0) return setProblem("Type the new value.");
    setProblem(undefined);
    onSave(read.data);
  };
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} noValidate className="dialog-body">
        <ValueRows handle={rows} initialKeys={keys} fixedKeys={fixedKeys} label={fixedKeys ? "New value" : "Key and value"} onEdit={() => setProblem(undefined)} />
        <ErrorNote error={problem} />
        <ErrorNote error={error} />
        <footer className="dialog-foot">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={pending}>
            {pending ? "Saving…" : "Save"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}


/** A version that can still be read, and so rolled back to: not destroyed, and not deleted yet (a deletion may be scheduled). */
function readable(version: SecretVersionInfo): boolean {
  return !version.destroyed && (version.deletedAt === null || Date.parse(version.deletedAt) > Date.now());
}
