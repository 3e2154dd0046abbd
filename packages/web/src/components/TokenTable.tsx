import type { TokenInfo } from "../api.ts";
import { ConfirmButton, Empty, time } from "./ui.tsx";

export function TokenTable({ tokens, onRevoke, empty }: { tokens: TokenInfo[]; onRevoke?: (token: TokenInfo) => void; empty: string }) {
  if (tokens.length === 0) return <Empty title="No live tokens">{empty}</Empty>;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">Access</th>
            <th scope="col">Secrets</th>
            <th scope="col">Expires</th>
            <th scope="col">Created</th>
            {onRevoke && (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {tokens.map((token) => (
            <tr key={token.id}>
              <td data-label="Name">{token.name}</td>
              <td data-label="Kind">{token.kind}</td>
              <td data-label="Access">{token.access}</td>
              <td data-label="Secrets">{token.secrets?.join(", ") ?? "all"}</td>
              <td data-label="Expires">{token.expiresAt ? time(token.expiresAt) : "never"}</td>
              <td data-label="Created">{time(token.createdAt)}</td>
              {onRevoke && (
                <td>
                  {token.kind !== "session" && (
                    <ConfirmButton label="Revoke" ariaLabel={`Revoke token ${token.name}`} title={`Revoke token ${token.name}?`} confirm="Revoke" onConfirm={() => onRevoke(token)}>
                      Programs using it, and every token minted from it, are refused from now on.
                    </ConfirmButton>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
