/** The shapes the secret modules take and give; the facade (secret.service.ts) re-exports them for callers. */
import type { ApprovalSetting, SecretData, SecretScope, SecretSummary } from "@coffer/protocol";
import type { SecretValues } from "./secret.rules.ts";
import type { WorkspaceAcl } from "../access/access.service.ts";
import type { Principal } from "../identity/principal.ts";
import type { WorkspaceAccess } from "../workspace/workspace-access.ts";

/** The caller, the workspace with its grants, and which namespace names refer to. */
export interface SecretContext {
  principal: Principal;
  access: WorkspaceAccess;
  acl: WorkspaceAcl;
  scope: SecretScope;
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
}

export interface UpdateInput {
  label?: string | undefined;
  tags?: string[] | undefined;
  /** Days between rotations; null clears the secret's own interval (the label's default applies again). */
  rotationIntervalDays?: number | null | undefined;
  autoRotate?: boolean | undefined;
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
