/** The shapes the secret modules take and give; the facade (secret.service.ts) re-exports them for callers. */
import type { ApprovalSetting, CanaryFormat, SecretData, SecretScope, SecretSummary } from "@coffer/protocol";
import type { SecretRow } from "./secret.repository.ts";
import type { SecretValues } from "./secret.rules.ts";
import type { WorkspaceAcl } from "../access/access.service.ts";
import type { OriginSource } from "../core/request-origin.ts";
import type { Principal } from "../identity/principal.ts";
import type { WorkspaceAccess } from "../workspace/workspace-access.ts";

/** The caller, the workspace with its grants, and which namespace names refer to. */
export interface SecretContext {
  principal: Principal;
  access: WorkspaceAccess;
  acl: WorkspaceAcl;
  scope: SecretScope;
  /** The request served, which a canary's alarm names; undefined for work no request started. */
  from: OriginSource | undefined;
}

export interface SecretWithData extends SecretSummary {
  /** The values as text (the native API's view). */
  data: SecretData;
  /** The values with their JSON types, when some value is not a string (written through the Vault API). */
  values?: SecretValues;
}

export interface SecretRead {
  secret: Readonly<SecretWithData>;
  customMetadata: Readonly<Record<string, string>>;
  /** When this version is to be deleted (deleteVersionAfter); null: not scheduled. */
  deletesAt: number | null;
}

export interface CreateInput {
  name: string;
  type?: string | undefined;
  label?: string | undefined;
  tags?: string[] | undefined;
  data?: SecretValues | undefined;
  rotationIntervalDays?: number | null | undefined;
  autoRotate?: boolean | undefined;
  /** ISO 8601; null or absent: never expires. */
  expiresAt?: string | null | undefined;
  /** A decoy: Coffer generates its value (no data), and reading or using it raises canary.triggered. */
  canary?: boolean | undefined;
  /** The decoy's format for a USER_DEFINED canary; default aws. HMAC and INTERNAL_API_KEY canaries hold their type's generated value. */
  canaryFormat?: CanaryFormat | undefined;
}

/**
 * How a value left the store: revealed to the caller (`read`: the native
 * read, batch read, `coffer run`/inject, export, the Vault read), used on the
 * caller's behalf (`relay`), or keyed a signature (`hmac`).
 */
export type ValueUse = "read" | "relay" | "hmac";

/** A canary's value was read or used. */
export interface CanaryTrigger {
  ctx: SecretContext;
  secret: SecretRow;
  use: ValueUse;
}

/** What the secret layer reports as values leave it; wired by the composition root (coffer.ts). */
export interface SecretWatch {
  /** Runs on the request's path, before the value is handed out: it must not wait for anything. */
  canaryTouched(trigger: CanaryTrigger): void;
}

export interface UpdateInput {
  label?: string | undefined;
  tags?: string[] | undefined;
  /** Days between rotations; null clears the secret's own interval (the label's default applies again). */
  rotationIntervalDays?: number | null | undefined;
  autoRotate?: boolean | undefined;
  /** ISO 8601 from which the value is neither read nor used; null removes the expiry. */
  expiresAt?: string | null | undefined;
  /** Check-and-set: the version the caller last saw. */
  cas?: number | undefined;
  /**
   * The written data must hold exactly these keys. Checked on the data built
   * from the version the write replaces, and that version is what the write's
   * transaction sets from: a concurrent change of keys fails the write (or
   * retries it on the new version) instead of mixing into it.
   */
  onlyKeys?: readonly string[] | undefined;
}

export interface SettingsInput {
  casRequired?: boolean | undefined;
  /** null: back to the workspace's. */
  maxVersions?: number | null | undefined;
  deleteVersionAfter?: number | undefined;
  /** Replaces the custom metadata as a whole. */
  customMetadata?: Record<string, string> | undefined;
  /** Where the relay may send the value (checked by relay/relay-policy.ts); null removes it. Needs `manage`. */
  relayPolicy?: unknown;
  /** ISO 8601 from which the value is neither read nor used; null removes the expiry. */
  expiresAt?: string | null | undefined;
  /** Who needs a person's approval for each use. Needs `manage`. */
  approval?: ApprovalSetting | undefined;
}

export interface ListQuery {
  prefix?: string | undefined;
  recursive?: boolean | undefined;
  search?: string | undefined;
  deleted?: "exclude" | "include" | "only" | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
  /** "due": only secrets due or overdue for rotation. */
  rotation?: "due" | undefined;
}

export interface ListResult {
  items: SecretSummary[];
  folders: string[];
  nextCursor: string | null;
}
