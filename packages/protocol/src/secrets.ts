/** Wire shapes of the secrets API, shared by the server and its clients. */

export const SECRET_TYPES = ["USER_DEFINED", "HMAC", "INTERNAL_API_KEY"] as const;
export type SecretType = (typeof SECRET_TYPES)[number];

export const SECRET_SCOPES = ["shared", "personal"] as const;
export type SecretScope = (typeof SECRET_SCOPES)[number];

/** Limits every node enforces; the docs quote these numbers. */
export const LIMITS = {
  nameLength: 256,
  keyNameLength: 128,
  maxKeys: 100,
  payloadBytes: 64 * 1024,
  labelLength: 256,
  maxTags: 32,
  tagLength: 64,
  customMetadataKeys: 64,
  customMetadataKeyLength: 128,
  customMetadataValueLength: 512,
} as const;

export type SecretData = Record<string, string>;

export interface SecretSummary {
  id: string;
  name: string;
  scope: SecretScope;
  type: SecretType;
  label: string;
  tags: string[];
  keys: string[];
  version: number;
  createdAt: string;
  updatedAt: string;
  ageDays: number;
  deletedAt: string | null;
}

export interface Secret extends SecretSummary {
  data: SecretData;
}

export interface SecretVersionInfo {
  version: number;
  keys: string[];
  createdAt: string;
  createdBy: string;
  current: boolean;
  /** When the version was (or, when scheduled by deleteVersionAfter, will be) soft-deleted; null: it is not. */
  deletedAt: string | null;
  /** A destroyed version's value is gone for good. */
  destroyed: boolean;
}

/** Per-secret settings, as Vault's KV v2 metadata has them. */
export interface SecretSettings {
  /** Writes must give check-and-set (`cas`). */
  casRequired: boolean;
  /** Versions kept; null: the workspace's maxVersions. */
  maxVersions: number | null;
  /** Seconds after which each new version is deleted; 0: the workspace's setting (0 there: never). */
  deleteVersionAfter: number;
  /** The owner's notes on the secret: at most 64 keys, never a value. */
  customMetadata: Record<string, string>;
}

export interface SecretMetadata extends SecretSettings {
  id: string;
  name: string;
  currentVersion: number;
  oldestVersion: number;
  createdAt: string;
  updatedAt: string;
  versions: SecretVersionInfo[];
}
