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
    /** 0/1: every write to a secret here must give check-and-set. */
    casRequired: number;
    /** Seconds after which a new version is deleted; 0: never. */
    deleteVersionAfter: number;
    /** Days before a secret's expiry that its warning goes out. */
    expiryWarningDays: number;
    /** Days without a read or use after which a secret is reported unused; null: never. */
    unusedAlertDays: number | null;
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
    /** JSON object of attribution labels ({agent, session}); null: none. */
    labels: string | null;
    /** Relayed uses per secret per hour; null: no cap. */
    relayUsesPerHour: number | null;
    /** 1: renew-self and renew may extend expiresAt (Vault tokens). */
    renewable: number;
    /** What a renewal without an increment grants; null: the token's first lifetime. */
    ttlSeconds: number | null;
    /** No renewal goes past this; null: none. */
    maxExpiresAt: number | null;
    /** A periodic token: each renewal grants this many seconds. */
    periodSeconds: number | null;
    /** JSON object of strings (Vault's token meta), or null. */
    meta: string | null;
    /** JSON array of the Vault policy names the token was created with, or null. */
    policies: string | null;
  };
  vaultPolicies: {
    workspaceId: string;
    name: string;
    /** The policy as written, HCL or JSON. */
    policy: string;
    createdAt: number;
    updatedAt: number;
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
    /** Days between rotations; null: the workspace default for the label, if any. */
    rotationIntervalDays: number | null;
    /** 1: the rotation job writes a new generated value when due (HMAC and INTERNAL_API_KEY only). */
    autoRotate: number;
    /** 0/1: writes must give check-and-set (or the workspace requires it). */
    casRequired: number;
    /** Versions kept; null: the workspace's maxVersions. */
    maxVersions: number | null;
    /** Seconds after which a new version is deleted; 0: the workspace's setting. */
    deleteVersionAfter: number;
    /** JSON object of string → string, the caller's own notes (never a value). */
    customMetadata: string;
    /** JSON RelayPolicy: where the relay may send the value; null: it may not be relayed. */
    relayPolicy: string | null;
    /** Who needs a person's approval for each use: none | agents (tokens with an `agent` label) | all. */
    approval: string;
    /** 0/1: a decoy; reading or using it raises canary.triggered. */
    canary: number;
    /** After this the value is neither read nor used (SECRET_EXPIRED); null: never. */
    expiresAt: number | null;
    /** When the warning of the coming expiry went out; null: not yet. */
    expiryWarnedAt: number | null;
    /** The last read or use, recorded in batches (within seconds); null: never since it was created. */
    lastUsedAt: number | null;
    /** When the alert that it lies unused went out; null: not for its current idle stretch. */
    unusedAlertedAt: number | null;
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
    /** When the version is (or will be, when scheduled) soft-deleted; null: never. */
    deletedAt: number | null;
    /** When the version was destroyed; its ciphertext is then empty. */
    destroyedAt: number | null;
  };
  /**
   * The audit log, append-only, one row per batch of events (audit/audit-segment.ts):
   * `events` holds the batch's events with their chain hashes; the other
   * columns summarise it so that queries can skip whole segments.
   */
  auditSegments: {
    firstSeq: number;
    lastSeq: number;
    minTime: number;
    maxTime: number;
    /** Every workspace, secret and actor the events name, each on its own line with a prefix (w:, s:, a:). */
    keys: string;
    /** The hash of the segment's last event, where the chain goes on from. */
    lastHash: string;
    /** The events, one JSON array a line, UTF-8. */
    events: Uint8Array;
  };
  webhooks: {
    id: string;
    workspaceId: string;
    url: string;
    /** JSON array of alert types. */
    events: string;
    /** The HMAC signing key, sealed by the keyring. */
    signingKey: Uint8Array;
    keyVersion: number;
    createdAt: number;
    createdBy: string;
  };
  /** What webhooks carry, kept so admins can see recent alerts; workspace null for instance-wide ones. */
  alerts: { id: string; workspaceId: string | null; type: string; time: number; message: string; details: string };
  webhookDeliveries: {
    id: string;
    webhookId: string;
    alertId: string;
    /** 'pending', 'delivered' or 'failed' (gave up). */
    state: string;
    attempts: number;
    lastStatus: number | null;
    lastError: string | null;
    nextAttemptAt: number | null;
    createdAt: number;
    updatedAt: number;
  };
  /** A workspace's rotation interval for secrets with this label and no interval of their own. */
  rotationDefaults: { workspaceId: string; label: string; intervalDays: number; updatedAt: number; updatedBy: string };
  /** A workspace's base-URL relay routes: `/relay/{ws}/{name}/…` forwards to `target` with the templates applied. */
  approvals: {
    id: string;
    workspaceId: string;
    secretId: string;
    secretName: string;
    kind: string;
    action: string;
    reason: string;
    requesterKind: string;
    requesterId: string;
    requesterName: string;
    tokenId: string;
    labels: string;
    status: string;
    createdAt: number;
    expiresAt: number;
    decidedAt: number | null;
    decidedBy: string | null;
    decidedByName: string | null;
    validUntil: number | null;
  };
  relayRoutes: {
    workspaceId: string;
    name: string;
    target: string;
    /** JSON objects of templates holding placeholders, never values. */
    headers: string;
    query: string;
    description: string;
    createdAt: number;
    createdBy: string;
    updatedAt: number;
    updatedBy: string;
  };
  /** Reminders sent, one per (secret, version, kind): 'rotation.due' or 'rotation.overdue'. */
  rotationReminders: { secretId: string; version: number; kind: string; sentAt: number };
}
