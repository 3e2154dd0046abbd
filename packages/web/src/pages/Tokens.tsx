/** The caller's own API tokens: create (shown once), list, revoke. */
import { useAction, useLoad, type TokenInfo } from "../api.ts";
import { ErrorNote, Loading } from "../components/ui.tsx";
import { TokenForm } from "../components/TokenForm.tsx";
import { TokenTable } from "../components/TokenTable.tsx";
import { useSession } from "../session.tsx";

export function Tokens() {
  const { client, workspace } = useSession();
  const tokens = useLoad(() => client.call<{ tokens: TokenInfo[] }>("listTokens", {}).then((r) => r.tokens), [client]);
  const revoke = useAction();
  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">My tokens</h1>
      <p className="muted">
        For programs acting as you (CLI, SDK, curl): <code>Authorization: Bearer cft_…</code>. Tokens made here are bound to the workspace <strong>{workspace}</strong>.
      </p>
      <TokenForm create={(request) => client.call("createToken", {}, { body: { ...request, workspace } })} onCreated={tokens.reload} />
      <h2>Live tokens</h2>
      <ErrorNote error={tokens.error ?? revoke.error} />
      {tokens.data ? (
        <TokenTable
          tokens={tokens.data}
          empty="Create one above for a script or an agent."
          onRevoke={(token) => void revoke.run(() => client.call("revokeToken", { id: token.id }).then(() => true)).then((ok) => ok && tokens.reload())}
        />
      ) : (
        <Loading />
      )}
    </section>
  );
}
