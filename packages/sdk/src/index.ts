/**
 * Coffer's TypeScript SDK: zero runtime dependencies, built on `fetch`, so it
 * runs on Node, Bun, Deno and in browsers.
 *
 *   const coffer = new Coffer({ addr, token, workspace: "default" });
 *   const db = await coffer.secrets.get("database-config");   // db.data.password
 *   await coffer.withSecrets(["OPENAI_KEY"], async (vault) => call(vault.OPENAI_KEY));
 */
import type { ErrorBody, RotationStatus, SealStatus, SecretData, SecretMetadata, SecretRotation, SecretScope, SecretSettings, SecretSummary, SecretType, SecretVersionInfo } from "@coffer/protocol";

export type { RotationStatus, SealStatus, SecretData, SecretMetadata, SecretRotation, SecretScope, SecretSettings, SecretSummary, SecretType, SecretVersionInfo };

export interface Secret extends SecretSummary {
  data: SecretData;
}

export interface CofferOptions {
  /** Server address; default COFFER_ADDR where there is an environment, else http://127.0.0.1:8200. */
  addr?: string;
  /** Bearer token; default COFFER_TOKEN where there is an environment. */
  token?: string;
  /** Workspace id or name; default COFFER_WORKSPACE, else "default". */
  workspace?: string;
  /** How often a 429 is retried, honouring Retry-After (default 3). */
  maxRetries?: number;
  fetch?: typeof fetch;
  /**
   * In a browser with a session cookie (no token): the session's CSRF token
   * from the login answer, sent as X-CSRF-Token on every request that changes
   * something. The cookie itself travels with same-origin requests.
   */
  csrfToken?: string;
  /**
   * Never receive a value: writes are sent with `Prefer: return=minimal` and
   * answer metadata without `data` (what the web UI uses).
   */
  writeOnly?: boolean;
}

/** Every error the server answers, with its stable code (SECRET_NOT_FOUND, ACCESS_DENIED, …). */
export class CofferError extends Error {
  readonly code: string;
  readonly status: number;
  readonly requestId: string | undefined;
  /** Seconds the server asked to wait (its Retry-After header), on a 429 or 503 that gave one. */
  readonly retryAfter: number | undefined;
  constructor(code: string, message: string, status: number, requestId?: string, retryAfter?: number) {
    super(message);
    this.name = "CofferError";
    this.code = code;
    this.status = status;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/**
 * The routes the SDK calls, as the server's OpenAPI document names them; a
 * test checks each against the document, so the two cannot drift apart.
 */
export const ROUTES = {
  listSecrets: ["GET", "/api/v1/workspaces/{workspace}/secrets"],
  createSecret: ["POST", "/api/v1/workspaces/{workspace}/secrets"],
  readSecret: ["GET", "/api/v1/workspaces/{workspace}/secrets/{secret}"],
  restoreSecret: ["POST", "/api/v1/workspaces/{workspace}/secrets/{secret}/restore"],
  readSecrets: ["POST", "/api/v1/workspaces/{workspace}/secret-reads"],
  replaceSecret: ["PUT", "/api/v1/workspaces/{workspace}/secrets/{secret}"],
  patchSecret: ["PATCH", "/api/v1/workspaces/{workspace}/secrets/{secret}"],
  deleteSecret: ["DELETE", "/api/v1/workspaces/{workspace}/secrets/{secret}"],
  listVersions: ["GET", "/api/v1/workspaces/{workspace}/secrets/{secret}/versions"],
  rollback: ["POST", "/api/v1/workspaces/{workspace}/secrets/{secret}/rollback"],
  readMetadata: ["GET", "/api/v1/workspaces/{workspace}/secrets/{secret}/metadata"],
  updateMetadata: ["PATCH", "/api/v1/workspaces/{workspace}/secrets/{secret}/metadata"],
  deleteVersions: ["POST", "/api/v1/workspaces/{workspace}/secrets/{secret}/versions/delete"],
  undeleteVersions: ["POST", "/api/v1/workspaces/{workspace}/secrets/{secret}/versions/undelete"],
  destroyVersions: ["POST", "/api/v1/workspaces/{workspace}/secrets/{secret}/versions/destroy"],
  share: ["PUT", "/api/v1/workspaces/{workspace}/secrets/{secret}/grants/{subject}"],
  unshare: ["DELETE", "/api/v1/workspaces/{workspace}/secrets/{secret}/grants/{subject}"],
  hmacSign: ["POST", "/api/v1/workspaces/{workspace}/secrets/{secret}/hmac"],
  hmacVerify: ["POST", "/api/v1/workspaces/{workspace}/secrets/{secret}/verify"],
  rotationDefaults: ["GET", "/api/v1/workspaces/{workspace}/rotation-defaults"],
  setRotationDefaults: ["PUT", "/api/v1/workspaces/{workspace}/rotation-defaults"],
  tokenSelf: ["GET", "/api/v1/auth/token/self"],
  // Sessions, tokens and administration: what the `coffer` CLI calls through `call()`.
  listGrants: ["GET", "/api/v1/workspaces/{workspace}/secrets/{secret}/grants"],
  login: ["POST", "/api/v1/auth/login"],
  logout: ["POST", "/api/v1/auth/logout"],
  listTokens: ["GET", "/api/v1/auth/tokens"],
  createToken: ["POST", "/api/v1/auth/tokens"],
  createChildToken: ["POST", "/api/v1/auth/token/child"],
  revokeToken: ["DELETE", "/api/v1/auth/tokens/{id}"],
  listUsers: ["GET", "/api/v1/users"],
  createUser: ["POST", "/api/v1/users"],
  updateUser: ["PATCH", "/api/v1/users/{user}"],
  listWorkspaces: ["GET", "/api/v1/workspaces"],
  readWorkspace: ["GET", "/api/v1/workspaces/{workspace}"],
  createWorkspace: ["POST", "/api/v1/workspaces"],
  updateWorkspace: ["PATCH", "/api/v1/workspaces/{workspace}"],
  deleteWorkspace: ["DELETE", "/api/v1/workspaces/{workspace}"],
  listMembers: ["GET", "/api/v1/workspaces/{workspace}/members"],
  setMember: ["PUT", "/api/v1/workspaces/{workspace}/members/{user}"],
  removeMember: ["DELETE", "/api/v1/workspaces/{workspace}/members/{user}"],
  listGroups: ["GET", "/api/v1/workspaces/{workspace}/groups"],
  createGroup: ["POST", "/api/v1/workspaces/{workspace}/groups"],
  deleteGroup: ["DELETE", "/api/v1/workspaces/{workspace}/groups/{group}"],
  addGroupMember: ["PUT", "/api/v1/workspaces/{workspace}/groups/{group}/members/{member}"],
  removeGroupMember: ["DELETE", "/api/v1/workspaces/{workspace}/groups/{group}/members/{member}"],
  listServiceAccounts: ["GET", "/api/v1/workspaces/{workspace}/service-accounts"],
  createServiceAccount: ["POST", "/api/v1/workspaces/{workspace}/service-accounts"],
  deleteServiceAccount: ["DELETE", "/api/v1/workspaces/{workspace}/service-accounts/{account}"],
  listServiceAccountTokens: ["GET", "/api/v1/workspaces/{workspace}/service-accounts/{account}/tokens"],
  createServiceAccountToken: ["POST", "/api/v1/workspaces/{workspace}/service-accounts/{account}/tokens"],
  keyStatus: ["GET", "/api/v1/sys/keys"],
  rotateKey: ["POST", "/api/v1/sys/keys/rotate"],
  listAudit: ["GET", "/api/v1/audit"],
  verifyAudit: ["GET", "/api/v1/audit/verify"],
  backup: ["GET", "/api/v1/sys/backup"],
  // Sealing: `coffer.sys`.
  sealStatus: ["GET", "/api/v1/sys/seal-status"],
  init: ["POST", "/api/v1/sys/init"],
  unseal: ["POST", "/api/v1/sys/unseal"],
  seal: ["POST", "/api/v1/sys/seal"],
  rekey: ["POST", "/api/v1/sys/rekey"],
  rotateRootKey: ["POST", "/api/v1/sys/root-key/rotate"],
} as const satisfies Record<string, readonly [string, string]>;

export type RouteName = keyof typeof ROUTES;
/** A route given as [method, path template]: for routes a server may not have yet (it answers NOT_FOUND). */
export type Route = readonly [string, string];

const env: Record<string, string | undefined> = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

export class Coffer {
  readonly addr: string;
  readonly workspace: string;
  readonly secrets: Secrets;
  readonly sys: Sys;
  #token: string | undefined;
  #maxRetries: number;
  #fetch: typeof fetch;
  #csrfToken: string | undefined;
  #writeOnly: boolean;

  constructor(options: CofferOptions = {}) {
    this.addr = (options.addr ?? env.COFFER_ADDR ?? "http://127.0.0.1:8200").replace(/\/+$/, "");
    this.workspace = options.workspace ?? env.COFFER_WORKSPACE ?? "default";
    this.#token = options.token ?? env.COFFER_TOKEN;
    this.#maxRetries = options.maxRetries ?? 3;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#csrfToken = options.csrfToken;
    this.#writeOnly = options.writeOnly ?? false;
    this.secrets = new Secrets(this);
    this.sys = new Sys(this);
  }

  /** Practicus' shape: one value per name, personal unless `shared`. */
  async createOrUpdateSecret(name: string, value: string, options: { shared?: boolean } = {}): Promise<void> {
    await this.secrets.update(name, { value }, { scope: scopeOf(options.shared) });
  }

  /** The value (a single-key secret's value, else the whole map) and its age in days. */
  async getSecret(name: string, options: { shared?: boolean } = {}): Promise<{ value: string | SecretData; ageDays: number }> {
    const secret = await this.secrets.get(name, { scope: scopeOf(options.shared) });
    const keys = Object.keys(secret.data);
    return { value: keys.length === 1 ? secret.data[keys[0]!]! : secret.data, ageDays: secret.ageDays };
  }

  async deleteSecret(name: string, options: { shared?: boolean } = {}): Promise<void> {
    await this.secrets.delete(name, { scope: scopeOf(options.shared) });
  }

  /**
   * Hands `fn` a read-only mapping of the named secrets, fetched in one
   * request; single-value secrets map to their value, others to their
   * key/value map. The mapping lives only as long as `fn` holds it.
   */
  async withSecrets<T>(names: string[], fn: (vault: Readonly<Record<string, string | Readonly<SecretData>>>) => Promise<T> | T, options: { shared?: boolean } = {}): Promise<T> {
    const secrets = await this.secrets.getMany(names, { scope: options.shared === false ? "personal" : "shared" });
    const vault: Record<string, string | Readonly<SecretData>> = {};
    for (const secret of secrets) {
      const keys = Object.keys(secret.data);
      vault[secret.name] = keys.length === 1 && keys[0] === "value" ? secret.data.value! : Object.freeze({ ...secret.data });
    }
    return fn(Object.freeze(vault));
  }

  /** The workspace's rotation interval per label, for secrets without one of their own. */
  async rotationDefaults(): Promise<RotationDefaults> {
    return this.call("rotationDefaults", {});
  }

  /** Replaces every rotation default of the workspace (workspace admins). */
  async setRotationDefaults(defaults: RotationDefault[]): Promise<RotationDefaults> {
    return this.call("setRotationDefaults", {}, { body: { defaults } });
  }

  async whoami(): Promise<{ principalId: string; kind: string; access: string; workspaceId: string | null; secrets: string[] | null; expiresAt: string | null }> {
    return this.call("tokenSelf", {});
  }

  /** Calls one of ROUTES (or a Route); retries 429s after Retry-After, and turns error bodies into CofferError. */
  async call<T>(route: RouteName | Route, params: Record<string, string>, options: { query?: Record<string, string | number | boolean | undefined>; body?: unknown } = {}): Promise<T> {
    const text = await (await this.#send(route, params, options)).text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * A consistent, encrypted snapshot of the whole store, as a stream of the
   * backup file's bytes (instance administrators, full-scope token). `tables`
   * and `rows` say how much it holds, for progress. Restoring it needs the
   * server's root key (`coffer operator restore`).
   */
  async backup(): Promise<{ body: ReadableStream<Uint8Array>; tables: number; rows: number }> {
    const response = await this.#send("backup", {});
    if (!response.body) throw new CofferError("INTERNAL", "the backup answer has no body", response.status);
    return { body: response.body, tables: Number(response.headers.get("coffer-backup-tables")), rows: Number(response.headers.get("coffer-backup-rows")) };
  }

  async #send(route: RouteName | Route, params: Record<string, string>, options: { query?: Record<string, string | number | boolean | undefined>; body?: unknown } = {}): Promise<Response> {
    const [method, template] = typeof route === "string" ? ROUTES[route] : route;
    let path = template.replace(/\{(\w+)\}/g, (_, key: string) => encodeURIComponent(key === "workspace" ? (params.workspace ?? this.workspace) : params[key] ?? ""));
    const query = Object.entries(options.query ?? {}).filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined);
    if (query.length) path += "?" + new URLSearchParams(query.map(([k, v]): [string, string] => [k, String(v)])).toString();
    for (let attempt = 0; ; attempt++) {
      const response = await this.#fetch(this.addr + path, {
        method,
        credentials: "same-origin",
        headers: {
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
          ...(this.#csrfToken && method !== "GET" && method !== "HEAD" ? { "x-csrf-token": this.#csrfToken } : {}),
          ...(this.#writeOnly ? { prefer: "return=minimal" } : {}),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      if (response.status === 429 && attempt < this.#maxRetries) {
        await response.text();
        await sleep(retryDelay(response.headers.get("retry-after"), attempt));
        continue;
      }
      if (!response.ok) throw errorOf(response.status, await response.text(), response.headers.get("retry-after"));
      return response;
    }
  }
}

export interface ListOptions {
  prefix?: string;
  search?: string;
  recursive?: boolean;
  scope?: SecretScope;
  /** "due": only secrets due or overdue for rotation. */
  rotation?: "due";
}

export interface RotationDefault {
  label: string;
  intervalDays: number;
}

export interface RotationDefaults {
  defaults: RotationDefault[];
  graceDays: number;
}

/** Rotation settings of a secret: days between rotations (null clears), and self-rotation for HMAC and INTERNAL_API_KEY. */
export interface RotationOptions {
  rotationIntervalDays?: number | null;
  autoRotate?: boolean;
}

export type MessageEncoding = "utf8" | "base64";

export class Secrets {
  #coffer: Coffer;

  constructor(coffer: Coffer) {
    this.#coffer = coffer;
  }

  /** Every secret visible to the caller (names, keys, types, labels, ages; never values), all pages. */
  async list(options: ListOptions = {}): Promise<SecretSummary[]> {
    const items: SecretSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#coffer.call<{ items: SecretSummary[]; nextCursor: string | null }>("listSecrets", {}, { query: { ...options, limit: 1000, cursor } });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return items;
  }

  /** Secrets due or overdue for rotation, all pages. */
  due(options: Omit<ListOptions, "rotation"> = {}): Promise<SecretSummary[]> {
    return this.list({ ...options, rotation: "due" });
  }

  get(nameOrId: string, options: { version?: number; scope?: SecretScope } = {}): Promise<Secret> {
    return this.#coffer.call("readSecret", { secret: nameOrId }, { query: options });
  }

  /** Undoes a soft-delete. */
  restore(nameOrId: string, options: { scope?: SecretScope } = {}): Promise<SecretSummary> {
    return this.#coffer.call("restoreSecret", { secret: nameOrId }, { query: options });
  }

  /** Several secrets in one request; fails whole if one is missing or not readable. */
  async getMany(names: string[], options: { scope?: SecretScope } = {}): Promise<Secret[]> {
    return (await this.#coffer.call<{ secrets: Secret[] }>("readSecrets", {}, { body: { names, ...options } })).secrets;
  }

  create(name: string, data: SecretData | undefined, options: { type?: SecretType; label?: string; tags?: string[]; scope?: SecretScope } & RotationOptions = {}): Promise<Secret> {
    return this.#coffer.call("createSecret", {}, { body: { name, ...(data ? { data } : {}), ...options } });
  }

  /**
   * Replaces every key/value pair (creating the secret if the name is new), or
   * with `merge` sets only the given keys (null removes one). `cas` fails with
   * VERSION_CONFLICT unless the secret is still at that version.
   */
  update(
    name: string,
    data: SecretData | Record<string, string | null>,
    options: { cas?: number; merge?: boolean; label?: string; tags?: string[]; scope?: SecretScope } & RotationOptions = {},
  ): Promise<Secret> {
    const { merge, scope, ...body } = options;
    return this.#coffer.call(merge ? "patchSecret" : "replaceSecret", { secret: name }, { query: { scope }, body: { data, ...body } });
  }

  /** Soft-deletes (restorable); `permanent` destroys every version. */
  async delete(name: string, options: { permanent?: boolean; scope?: SecretScope } = {}): Promise<void> {
    await this.#coffer.call("deleteSecret", { secret: name }, { query: options });
  }

  async versions(name: string, options: { scope?: SecretScope } = {}): Promise<SecretVersionInfo[]> {
    return (await this.#coffer.call<{ versions: SecretVersionInfo[] }>("listVersions", { secret: name }, { query: options })).versions;
  }

  rollback(name: string, version: number, options: { cas?: number; scope?: SecretScope } = {}): Promise<Secret> {
    const { scope, ...body } = options;
    return this.#coffer.call("rollback", { secret: name }, { query: { scope }, body: { version, ...body } });
  }

  /**
   * Signs `message` with an HMAC secret's key (HMAC-SHA256) without reading
   * it (needs only `use`): `v<version>:<base64url>`.
   */
  sign(name: string, message: string, options: { encoding?: MessageEncoding; scope?: SecretScope } = {}): Promise<{ signature: string; version: number }> {
    const { scope, ...body } = options;
    return this.#coffer.call("hmacSign", { secret: name }, { query: { scope }, body: { message, ...body } });
  }

  /** Checks a signature; one of the previous key version counts during a rotation's grace period. */
  verify(name: string, message: string, signature: string, options: { encoding?: MessageEncoding; scope?: SecretScope } = {}): Promise<{ valid: boolean; version: number }> {
    const { scope, ...body } = options;
    return this.#coffer.call("hmacVerify", { secret: name }, { query: { scope }, body: { message, signature, ...body } });
  }

  /** Everything but the value: the summary, the caller's level (`access`), settings and the state of every kept version. */
  metadata(name: string, options: { scope?: SecretScope } = {}): Promise<SecretMetadata> {
    return this.#coffer.call("readMetadata", { secret: name }, { query: options });
  }

  /** Changes casRequired, maxVersions (null: the workspace's), deleteVersionAfter (seconds) or customMetadata (replaced whole). */
  updateMetadata(name: string, settings: Partial<SecretSettings>, options: { scope?: SecretScope } = {}): Promise<SecretMetadata> {
    return this.#coffer.call("updateMetadata", { secret: name }, { query: options, body: settings });
  }

  /** Soft-deletes versions (default: the current one); undeleteVersions brings them back. */
  async deleteVersions(name: string, versions?: number[], options: { scope?: SecretScope } = {}): Promise<SecretVersionInfo[]> {
    return (await this.#coffer.call<{ versions: SecretVersionInfo[] }>("deleteVersions", { secret: name }, { query: options, body: versions ? { versions } : {} })).versions;
  }

  async undeleteVersions(name: string, versions: number[], options: { scope?: SecretScope } = {}): Promise<SecretVersionInfo[]> {
    return (await this.#coffer.call<{ versions: SecretVersionInfo[] }>("undeleteVersions", { secret: name }, { query: options, body: { versions } })).versions;
  }

  /** Wipes versions' values for good; their metadata stays. */
  async destroyVersions(name: string, versions: number[], options: { scope?: SecretScope } = {}): Promise<SecretVersionInfo[]> {
    return (await this.#coffer.call<{ versions: SecretVersionInfo[] }>("destroyVersions", { secret: name }, { query: options, body: { versions } })).versions;
  }

  /** Shares with `user:NAME`, `group:NAME` or `sa:NAME` at a level (see, use, read, write, manage). */
  async share(name: string, subject: string, level: "see" | "use" | "read" | "write" | "manage"): Promise<void> {
    await this.#coffer.call("share", { secret: name, subject }, { body: { level } });
  }

  async unshare(name: string, subject: string): Promise<void> {
    await this.#coffer.call("unshare", { secret: name, subject });
  }
}

/** The seal: status, init and unseal need no token; seal, rekey and root-key rotation need an administrator's. */
export class Sys {
  #coffer: Coffer;

  constructor(coffer: Coffer) {
    this.#coffer = coffer;
  }

  sealStatus(): Promise<SealStatus> {
    return this.#coffer.call("sealStatus", {});
  }

  /** Once, on a Shamir-sealed server: the shares and the admin bootstrap token, in this answer only. */
  init(shares: number, threshold: number): Promise<{ shares: string[]; threshold: number; bootstrapToken: string }> {
    return this.#coffer.call("init", {}, { body: { shares, threshold } });
  }

  unseal(share: string): Promise<SealStatus> {
    return this.#coffer.call("unseal", {}, { body: { share } });
  }

  /** Discards the shares given so far. */
  resetUnseal(): Promise<SealStatus> {
    return this.#coffer.call("unseal", {}, { body: { reset: true } });
  }

  async seal(): Promise<void> {
    await this.#coffer.call("seal", {});
  }

  /** New shares for the same root key, given `threshold` current ones. */
  rekey(shares: number, threshold: number, currentShares: string[]): Promise<{ shares: string[]; threshold: number }> {
    return this.#coffer.call("rekey", {}, { body: { shares, threshold, currentShares } });
  }

  /** A new root key. Shamir: `currentShares` are required and new shares come back; a key file is rewritten in place. */
  rotateRootKey(options: { currentShares?: string[]; shares?: number; threshold?: number } = {}): Promise<{ type: SealStatus["type"]; shares?: string[]; threshold?: number }> {
    return this.#coffer.call("rotateRootKey", {}, { body: options });
  }
}

function scopeOf(shared: boolean | undefined): SecretScope {
  return shared ? "shared" : "personal";
}

function errorOf(status: number, text: string, retryAfterHeader: string | null): CofferError {
  const retryAfter = retryAfterSeconds(retryAfterHeader);
  try {
    const { error } = JSON.parse(text) as ErrorBody;
    return new CofferError(error.code, error.message, status, error.requestId, retryAfter);
  } catch {
    return new CofferError(status >= 500 ? "INTERNAL" : "INVALID_REQUEST", `HTTP ${status} from the server`, status, undefined, retryAfter);
  }
}

/** A Retry-After header's seconds; undefined when absent or not a number of seconds. */
function retryAfterSeconds(header: string | null): number | undefined {
  const seconds = Number(header);
  return header !== null && Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/** Retry-After seconds when the server gives them, else exponential backoff with jitter. */
function retryDelay(header: string | null, attempt: number): number {
  const seconds = retryAfterSeconds(header);
  if (seconds !== undefined) return Math.min(seconds, 60) * 1000;
  return Math.min(8000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
