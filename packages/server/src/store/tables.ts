/**
 * The stored shape, in camelCase (Kysely's CamelCasePlugin maps to snake_case
 * columns). Times are integer milliseconds since the epoch on both databases;
 * flags are 0/1 integers; JSON is text. Names chosen here last forever.
 */

export interface Tables {
  meta: { key: string; value: string };
  dataKeys: { version: number; wrapped: Uint8Array; createdAt: number };
  users: {
    id: string;
    username: string;
    /** scrypt hash with its parameters; null until a password is set (token-only users). */
    passwordHash: string | null;
    isAdmin: number;
    disabledAt: number | null;
    createdAt: number;
  };
  serviceAccounts: {
    id: string;
    workspaceId: string;
    name: string;
    description: string;
    disabledAt: number | null;
    createdAt: number;
  };
  groups: { id: string; workspaceId: string; name: string; builtin: number; createdAt: number };
  /** A member is a user or a service account id (usr_… / sa_…). */
  groupMembers: { groupId: string; memberId: string; createdAt: number };
  /** A subject is a user, group or service account id. */
  grants: { secretId: string; workspaceId: string; subjectId: string; level: string; createdAt: number; createdBy: string };
  workspaces: {
    id: string;
    name: string;
    maxVersions: number;
    /** Per-token limits in requests per second; null follows the server's defaults. */
    readsPerSecond: number | null;
    writesPerSecond: number | null;
    createdAt: number;
  };
  memberships: { workspaceId: string; userId: string; role: string; createdAt: number };
  tokens: {
    id: string;
    tokenHash: string;
    /** The identity the token acts as: a user or a service account id. */
    principalId: string;
    parentId: string | null;
    /** 'session' (a login), 'api' or 'child'. */
    kind: string;
    name: string;
    workspaceId: string | null;
    /** JSON array of name patterns, or null for any. */
    secrets: string | null;
    maxLevel: string;
    /** JSON array of CIDR ranges, or null for anywhere. */
    cidrs: string | null;
    expiresAt: number | null;
    revokedAt: number | null;
    createdAt: number;
  };
  secrets: {
    id: string;
    workspaceId: string;
    scope: string;
    /** The owning user of a personal secret; '' for shared ones, so the unique name index covers both. */
    ownerId: string;
    name: string;
    type: string;
    label: string;
    tags: string;
    currentVersion: number;
    createdAt: number;
    createdBy: string;
    updatedAt: number;
    updatedBy: string;
    deletedAt: number | null;
    deletedBy: string | null;
  };
  secretVersions: {
    secretId: string;
    version: number;
    workspaceId: string;
    ciphertext: Uint8Array;
    keyVersion: number;
    keys: string;
    createdAt: number;
    createdBy: string;
  };
}
