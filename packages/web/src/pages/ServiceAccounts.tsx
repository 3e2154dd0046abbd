/** Service accounts (machine identities for agents and pipelines) and their tokens. */
import { useState, type FormEvent } from "react";
import { useAction, useLoad, type TokenInfo } from "../api.ts";
import { ConfirmButton, Empty, ErrorNote, Loading } from "../components/ui.tsx";
import { TokenForm } from "../components/TokenForm.tsx";
import { TokenTable } from "../components/TokenTable.tsx";
import { useSession } from "../session.tsx";

interface Account {
  id: string;
  name: string;
  description: string;
}

export function ServiceAccounts() {
  const { client } = useSession();
  const accounts = useLoad(() => client.call<{ serviceAccounts: Account[] }>("listServiceAccounts", {}).then((r) => r.serviceAccounts), [client]);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [open, setOpen] = useState<string>();
  const action = useAction();

  const create = (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) return;
    void action
      .run(() => client.call("createServiceAccount", {}, { body: { name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) } }))
      .then((ok) => {
        if (!ok) return;
        setOpen(name.trim());
        setName("");
        setDescription("");
        accounts.reload();
      });
  };

  return (
    <section aria-labelledby="sa-title">
      <h1 id="sa-title">Service accounts</h1>
      <p className="muted">A service account acts for an agent or a pipeline: share secrets with it (sa:NAME) and give it a token.</p>
      <form className="inline-form" onSubmit={create}>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="deploy-bot" />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder="optional" />
        </label>
        <button type="submit" className="primary" disabled={action.pending || !name.trim()}>
          Create
        </button>
      </form>
      <ErrorNote error={accounts.error ?? action.error} />
      {!accounts.data ? (
        <Loading />
      ) : accounts.data.length === 0 ? (
        <Empty title="No service accounts yet">Create one above for each agent or pipeline.</Empty>
      ) : (
        <ul className="cards">
          {accounts.data.map((account) => (
            <li key={account.id} className="card">
              <div className="card-head">
                <h2>{account.name}</h2>
                <span className="actions">
                  <button type="button" aria-expanded={open === account.name} onClick={() => setOpen(open === account.name ? undefined : account.name)}>
                    Tokens
                  </button>
                  <ConfirmButton
                    label="Delete"
                    ariaLabel={`Delete service account ${account.name}`}
                    title={`Delete service account ${account.name}?`}
                    confirm="Delete"
                    onConfirm={() => void action.run(() => client.call("deleteServiceAccount", { account: account.name }).then(() => true)).then((ok) => ok && accounts.reload())}
                  >
                    Its tokens stop working at once.
                  </ConfirmButton>
                </span>
              </div>
              {account.description && <p className="muted">{account.description}</p>}
              {open === account.name && <AccountTokens account={account.name} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function AccountTokens({ account }: { account: string }) {
  const { client } = useSession();
  const tokens = useLoad(() => client.call<{ tokens: TokenInfo[] }>("listServiceAccountTokens", { account }).then((r) => r.tokens), [client, account]);
  const revoke = useAction();
  return (
    <div className="nested">
      <TokenForm create={(request) => client.call("createServiceAccountToken", { account }, { body: request })} onCreated={tokens.reload} />
      <ErrorNote error={tokens.error ?? revoke.error} />
      {tokens.data && (
        <TokenTable
          tokens={tokens.data}
          empty="Create one above; it is shown once."
          onRevoke={(token) => void revoke.run(() => client.call("revokeToken", { id: token.id }).then(() => true)).then((ok) => ok && tokens.reload())}
        />
      )}
    </div>
  );
}
