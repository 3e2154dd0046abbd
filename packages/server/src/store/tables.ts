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
    isAdmin: number;
    disabledAt: number | null;
    createdAt: number;
  };
  workspaces: {
    id: string;
    name: string;
    maxVersions: number;
    createdAt: number;
  };
  memberships: { workspaceId: string; userId: string; role: string; createdAt: number };
  tokens: {
    id: string;
    tokenHash: string;
    userId: string;
    parentId: string | null;
    name: string;
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
