import type { ApprovalSetting } from "./approvals.ts";
import type { RelayPolicy } from "./relay.ts";
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

const SEGMENT = /^[A-Za-z0-9_.-]+$/;
const KEY_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * What is wrong with a secret name, in the words the server answers with;
 * undefined when it is valid. Shared so clients (the web UI) validate as the
 * server does before sending.
 */
export function secretNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > LIMITS.nameLength) return `secret names are 1 to ${LIMITS.nameLength} characters`;
  for (const segment of name.split("/")) {
    if (!SEGMENT.test(segment) || segment === "." || segment === "..") {
      return "secret names are '/'-separated segments of letters, digits, '_', '.' and '-', with no empty, '.' or '..' segment";
    }
  }
  return undefined;
}

/** What is wrong with a key name of a secret's data; undefined when it is valid. */
export function keyNameProblem(key: string): string | undefined {
  return key.length > LIMITS.keyNameLength || !KEY_NAME.test(key) ? `key names are 1 to ${LIMITS.keyNameLength} letters, digits, '_', '.' or '-'` : undefined;
}

export type SecretData = Record<string, string>;

/** ok, then due (the reminder window before dueAt), then overdue (past dueAt). */
export const ROTATION_STATUSES = ["ok", "due", "overdue"] as const;
export type RotationStatus = (typeof ROTATION_STATUSES)[number];

/** A secret's rotation schedule, present when an interval applies (its own or its label's workspace default). */
export interface SecretRotation {
  intervalDays: number;
  /** When the current value was written. */
  rotatedAt: string;
  dueAt: string;
  status: RotationStatus;
}

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
  /** Whether Coffer writes a new generated value when due (HMAC and INTERNAL_API_KEY). */
  autoRotate: boolean;
  rotation?: SecretRotation;
  /** When set: from this time on the value is neither read nor used (SECRET_EXPIRED). */
  expiresAt?: string;
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
  /** Where the relay may send the value (docs/relay.md); null: it cannot be relayed. */
  relayPolicy: RelayPolicy | null;
  /** Who needs a person's approval for each use (docs/agents.md); changing it needs manage. */
  approval: ApprovalSetting;
}

/** Everything about a secret but its value: what the web UI and Vault's metadata read show. */
export interface SecretMetadata extends SecretSettings, SecretSummary {
  /** The caller's level on it: see, use, read, write or manage. */
  access: string;
  /** A canary (its value a decoy): present only for callers who manage the secret. */
  canary?: boolean;
  currentVersion: number;
  oldestVersion: number;
  versions: SecretVersionInfo[];
}

/** A folder one level under the listed one: its path (ending in '/') and how many secrets the caller sees in it, sub-folders included. */
export interface SecretFolder {
  path: string;
  secrets: number;
}

/** One folder level of a namespace, as `GET …/secret-folders?prefix=` answers it. */
export interface SecretFolderLevel {
  prefix: string;
  folders: SecretFolder[];
  /** Secrets directly in this folder, not in a sub-folder. */
  secrets: number;
  /** More folders exist than `limit` allowed: the first ones by name are listed. */
  truncated: boolean;
}

/**
 * The well-known formats of the decoy a canary secret holds: an AWS access
 * key pair (keys access_key_id and secret_access_key), an OpenAI-style
 * `sk-…` API key and a GitHub personal access token `ghp_…` (one key, value).
 */
export const CANARY_FORMATS = ["aws", "openai", "github"] as const;
export type CanaryFormat = (typeof CANARY_FORMATS)[number];
