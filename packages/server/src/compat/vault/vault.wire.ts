/**
 * Vault's wire shapes: the response envelope, errors, durations and times.
 * Pure functions, no I/O: the routes translate core results through them.
 */
import type { CofferError } from "../../core/errors.ts";
import type { ErrorShape } from "../../http/errors.ts";
import type { Principal } from "../../identity/principal.ts";
import { DEFAULT_WORKSPACE } from "../../sys/init.ts";

/** The mount that stands for the token's own workspace, as `secret/` is Vault's default KV mount. */
export const DEFAULT_MOUNT = "secret";

export interface VaultAuth {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  metadata: Record<string, string>;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  token_type: "service";
  orphan: boolean;
  num_uses: number;
}

export function envelope(requestId: string, data: unknown, extra: { auth?: VaultAuth; warnings?: string[] } = {}) {
  return {
    request_id: requestId,
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: extra.warnings ?? null,
    auth: extra.auth ?? null,
  };
}

/** The same envelope around data already serialized (the read path keeps a version's JSON). */
export function envelopeJson(requestId: string, dataJson: string): string {
  return `{"request_id":${JSON.stringify(requestId)},"lease_id":"","renewable":false,"lease_duration":0,"data":${dataJson},"wrap_info":null,"warnings":null,"auth":null,"mount_type":"kv"}`;
}

/** A Coffer error as Vault says it: a status and `{"errors": [...]}`. */
export function vaultError(error: CofferError): { status: number; errors: string[] } {
  switch (error.code) {
    case "UNAUTHENTICATED":
    case "ACCESS_DENIED":
    // A workspace the caller does not belong to is a mount no policy of its token covers.
    case "WORKSPACE_NOT_FOUND":
      return { status: 403, errors: ["permission denied"] };
    case "SECRET_NOT_FOUND":
    case "VERSION_NOT_FOUND":
    case "NOT_FOUND":
      return { status: 404, errors: [] };
    case "VERSION_CONFLICT":
      return { status: 400, errors: ["check-and-set parameter did not match the current version"] };
    case "SEALED":
      return { status: 503, errors: ["Vault is sealed"] };
    case "INTERNAL":
    case "INTEGRITY_ERROR":
      return { status: 500, errors: ["internal error"] };
    default:
      // 400, 409, 413, 415, 429: Coffer's status with its message, which names fields, never values.
      return { status: error.status === 409 ? 400 : error.status, errors: [error.message] };
  }
}

/** Vault's error body: `{"errors": [...]}`, no request id. */
export const vaultErrorShape: ErrorShape = (error) => {
  const { status, errors } = vaultError(error);
  return { status, body: { errors } };
};

/** The workspace a mount names; `secret` is the token's own (its bound workspace, a service account's home, else `default`). */
export function workspaceOfMount(principal: Principal, mount: string): string {
  if (mount !== DEFAULT_MOUNT) return mount;
  return principal.scope.scope.workspaceId ?? principal.homeWorkspaceId ?? DEFAULT_WORKSPACE;
}

/** Vault prints absent times as "". */
export function vaultTime(iso: string | null | undefined): string {
  return iso ?? "";
}

/** Vault's `custom_metadata` is null when there is none. */
export function customMetadataOf(metadata: Readonly<Record<string, string>>): Readonly<Record<string, string>> | null {
  for (const _ in metadata) return metadata;
  return null;
}
