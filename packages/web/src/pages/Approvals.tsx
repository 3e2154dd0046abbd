/**
 * Uses waiting for a person: a relayed call or signature on a secret that
 * needs approval holds until someone who manages the secret decides here
 * (or with `coffer approvals`). Nothing on this page is a value.
 */
import { useEffect } from "react";
import type { Approval } from "@coffer/sdk";
import { describeError, useAction, useLoad } from "../api.ts";
import { Empty, ErrorNote, Loading } from "../components/ui.tsx";
import { useSession } from "../session.tsx";

/** Pending requests are re-read this often while the page is open: a waiting call has a minute at most. */
const REFRESH_MS = 3_000;

export function Approvals({ onDecided }: { onDecided?: () => void }) {
  const { client } = useSession();
  const approvals = useLoad(() => client.approvals.list(), [client]);
  const decide = useAction();
  useEffect(() => {
    const timer = setInterval(approvals.reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [approvals.reload]);
  const act = (run: () => Promise<Approval>) =>
    void decide.run(run).then(() => {
      approvals.reload();
      onDecided?.();
    });
  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title">Approvals</h1>
      <p className="muted">
        Relayed calls and signatures on secrets that need a person's approval wait here until you decide; no decision in time denies them. You see the requests on secrets you
        manage.
      </p>
      <ErrorNote error={approvals.error ?? decide.error} />
      {approvals.data === undefined ? (
        <Loading />
      ) : approvals.data.length === 0 ? (
        <Empty title="Nothing waits for approval">Requests appear here the moment an agent's call starts to wait.</Empty>
      ) : (
        <div className="table-wrap">
          <table aria-label="Pending approvals">
            <thead>
              <tr>
                <th>Secret</th>
                <th>Asks to</th>
                <th>Who</th>
                <th>Waits until</th>
                <th>Decide</th>
              </tr>
            </thead>
            <tbody>
              {approvals.data.map((approval) => (
                <tr key={approval.id} data-approval={approval.id}>
                  <td>
                    <code>{approval.secretName}</code>
                  </td>
                  <td>{asks(approval)}</td>
                  <td>{who(approval)}</td>
                  <td>{new Date(approval.expiresAt).toLocaleTimeString()}</td>
                  <td className="actions">
                    <button type="button" disabled={decide.pending} onClick={() => act(() => client.approvals.approve(approval.id))}>
                      Approve once
                    </button>
                    {approval.kind === "use" && (
                      <button type="button" disabled={decide.pending} onClick={() => act(() => client.approvals.approve(approval.id, { forSeconds: 3600 }))}>
                        Approve for 1 hour
                      </button>
                    )}
                    <button type="button" className="danger" disabled={decide.pending} onClick={() => act(() => client.approvals.deny(approval.id))}>
                      Deny
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {decide.error !== undefined && <p className="muted">{describeError(decide.error)}</p>}
    </section>
  );
}

function asks(approval: Approval): string {
  if (approval.kind === "grant") return `be granted ${approval.action}${approval.reason ? `: ${approval.reason}` : ""}`;
  return approval.action === "relay" ? "relay a call" : "sign a message";
}

function who(approval: Approval): string {
  const { name, agent, session } = approval.requester;
  return [name, agent && `agent ${agent}`, session && `session ${session}`].filter(Boolean).join(", ");
}
