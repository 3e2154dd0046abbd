/**
 * Coffer's TypeScript SDK: zero runtime dependencies, built on `fetch`, so it
 * runs on Node, Bun, Deno and in browsers.
 *
 *   const coffer = new Coffer({ addr, token, workspace: "default" });
 *   const db = await coffer.secrets.get("database-config");   // db.data.password
 *   await coffer.withSecrets(["OPENAI_KEY"], async (vault) => call(vault.OPENAI_KEY));
 */
import type { ErrorBody, SecretData, SecretMetadata, SecretScope, SecretSettings, SecretSummary, SecretType, SecretVersionInfo } from "@coffer/protocol";

export type { SecretData, SecretMetadata, SecretScope, SecretSettings, SecretSummary, SecretType, SecretVersionInfo };

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
}

/** Every error the server answers, with its stable code (SECRET_NOT_FOUND, ACCESS_DENIED, …). */
export class CofferError extends Error {
  readonly code: string;
  readonly status: number;
  readonly requestId: string | undefined;
  constructor(code: string, message: string, status: number, requestId?: string) {
    super(message);
    this.name = "CofferError";
    this.code = code;
    this.status = status;
    this.requestId = requestId;
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
  deleteWorkspace: ["DELETE", "/api/v1/workspaces/{workspace}"],
  listMembers: ["GET", "/api/v1/workspaces/{workspace}/members"],
  setMember: ["PUT", "/api/v1/workspaces/{workspace}/members/{user}"],
  removeMember: ["DELETE", "/api/v1/workspaces/{workspace}/members/{user}"],
  listGroups: ["GET", "/api/v1/workspaces/{workspace}/groups"],
  createGroup: ["POST", "/api/v1/workspaces/{workspace}/groups"],
  deleteGroup: ["DELETE", "/api/v1/workspaces/{workspace}/groups/{group}"],
  addGroupMember: ["PUT", "/api/v1/workspaces/{workspace}/groups/{group}/members/{member}"],
  removeGroupMember: ["DELETE", "/api/v1/workspaces/{workspace}/groups/{group}/members/{member}"],
  keyStatus: ["GET", "/api/v1/sys/keys"],
  rotateKey: ["POST", "/api/v1/sys/keys/rotate"],
} as const satisfies Record<string, readonly [string, string]>;

export type RouteName = keyof typeof ROUTES;

const env: Record<string, string | undefined> = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};

export class Coffer {
  readonly addr: string;
  readonly workspace: string;
  readonly secrets: Secrets;
  #token: string | undefined;
  #maxRetries: number;
  #fetch: typeof fetch;

  constructor(options: CofferOptions = {}) {
    this.addr = (options.addr ?? env.COFFER_ADDR ?? "http://127.0.0.1:8200").replace(/\/+$/, "");
    this.workspace = options.workspace ?? env.COFFER_WORKSPACE ?? "default";
    this.#token = options.token ?? env.COFFER_TOKEN;
    this.#maxRetries = options.maxRetries ?? 3;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.secrets = new Secrets(this);
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

  async whoami(): Promise<{ principalId: string; kind: string; access: string; workspaceId: string | null; secrets: string[] | null; expiresAt: string | null }> {
    return this.call("tokenSelf", {});
  }

  /** Calls one of ROUTES; retries 429s after Retry-After, and turns error bodies into CofferError. */
  async call<T>(route: RouteName, params: Record<string, string>, options: { query?: Record<string, string | number | boolean | undefined>; body?: unknown } = {}): Promise<T> {
    const [method, template] = ROUTES[route];
    let path = template.replace(/\{(\w+)\}/g, (_, key: string) => encodeURIComponent(key === "workspace" ? (params.workspace ?? this.workspace) : params[key] ?? ""));
    const query = Object.entries(options.query ?? {}).filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined);
    if (query.length) path += "?" + new URLSearchParams(query.map(([k, v]): [string, string] => [k, String(v)])).toString();
    for (let attempt = 0; ; attempt++) {
      const response = await this.#fetch(this.addr + path, {
        method,
        headers: {
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      if (response.status === 429 && attempt < this.#maxRetries) {
        await sleep(retryDelay(response.headers.get("retry-after"), attempt));
        continue;
      }
      const text = await response.text();
      if (!response.ok) throw errorOf(response.status, text);
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }
}

export interface ListOptions {
  prefix?: string;
  search?: string;
  recursive?: boolean;
  scope?: SecretScope;
}

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

  get(nameOrId: string, options: { version?: number; scope?: SecretScope } = {}): Promise<Secret> {
    return this.#coffer.call("readSecret", { secret: nameOrId }, { query: options });
  }

  /** Several secrets in one request; fails whole if one is missing or not readable. */
  async getMany(names: string[], options: { scope?: SecretScope } = {}): Promise<Secret[]> {
    return (await this.#coffer.call<{ secrets: Secret[] }>("readSecrets", {}, { body: { names, ...options } })).secrets;
  }

  create(name: string, data: SecretData | undefined, options: { type?: SecretType; label?: string; tags?: string[]; scope?: SecretScope } = {}): Promise<Secret> {
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
    options: { cas?: number; merge?: boolean; label?: string; tags?: string[]; scope?: SecretScope } = {},
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

  /** Settings and the state of every kept version (metadata only). */
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

function scopeOf(shared: boolean | undefined): SecretScope {
  return shared ? "shared" : "personal";
}

function errorOf(status: number, text: string): CofferError {
  try {
    const { error } = JSON.parse(text) as ErrorBody;
    return new CofferError(error.code, error.message, status, error.requestId);
  } catch {
    return new CofferError(status >= 500 ? "INTERNAL" : "INVALID_REQUEST", `HTTP ${status} from the server`, status);
  }
}

/** Retry-After seconds when the server gives them, else exponential backoff with jitter. */
function retryDelay(header: string | null, attempt: number): number {
  const seconds = Number(header);
  if (header !== null && Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 60) * 1000;
  return Math.min(8000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
