/** Who is calling: resolved from a token once, then cached. Never holds the token itself. */
export interface Principal {
  userId: string;
  username: string;
  /** Instance administrator: manages workspaces, keys and every shared secret. */
  isAdmin: boolean;
  tokenId: string;
  expiresAt: number | null;
}

/** What the audit log and `created_by` columns record for a caller. */
export function actorOf(principal: Principal): string {
  return principal.userId;
}
