/**
 * Coffer's TypeScript SDK: zero runtime dependencies, built on `fetch`, so it
 * runs on Node, Bun, Deno and in browsers.
 *
 *   const coffer = new Coffer({ addr, token, workspace: "default" });
 *   const db = await coffer.secrets.get("database-config");   // db.data.password
 *   await coffer.withSecrets(["OPENAI_KEY"], async (vault) => call(vault.OPENAI_KEY));
 */
import type { CanaryFormat, ErrorBody, RotationStatus, SealStatus, SecretData, SecretFolder, SecretFolderLevel, SecretMetadata, SecretRotation, SecretScope, SecretSettings, SecretSummary, SecretType, SecretVersionInfo } from "@coffer/protocol";

import { attributionHeaders, headersOf, relayBody, relayRequestOf, RelayRoutes, responseOf, RELAY_MARKER, type Attribution, type RelayPolicy, type RelayPolicyInput, type RelayRequest, type RelayResponse, type RelayStreamResponse } from "./relay.ts";
import { Approvals } from "./approvals.ts";
import { Tokens } from "./tokens.ts";

export type { CanaryFormat, RotationStatus, SealStatus, SecretData, SecretFolder, SecretFolderLevel, SecretMetadata, SecretRotation, SecretScope, SecretSettings, SecretSummary, SecretType, SecretVersionInfo };
export * from "./relay.ts";
export * from "./tokens.ts";
export * from "./approvals.ts";

export interface Secret extends SecretSummary {
  data: SecretData;
}

export interface CofferOptions {
  /**
   * Server address; default COFFER_ADDR where there is an environment, else
   * http://127.0.0.1:8200. Several nodes: an array, or addresses separated by
   * commas ("http://a:8200,http://b:8200"); see `Coffer.addrs` for failover.
   */
  addr?: string | readonly string[];
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
  /** Who is calling (an agent, its session, the tool it runs), sent with every request and recorded with relayed calls. */
  attribution?: Attribution;
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
  listSecretFolders: ["GET", "/api/v1/workspaces/{workspace}/secret-folders"],
  createSecret: ["POST", "/api/v1/workspaces/{workspace}/secrets"],
  readSecret: ["GET", "/api/v1/workspaces/{workspace}/secrets/{secret}"],
  restoreSecret: ["POST", "/api/v1/workspaces/{workspace}/secrets/{secret}/restore"],
  readSecrets: ["POST", "/api/v1/workspaces/{workspace}/secret-reads"],
  unusedSecrets: ["GET", "/api/v1/workspaces/{workspace}/unused-secrets"],
  replaceSecret: ["PUT", "/api/v1/workspaces/{workspace}/secrets/{secret}"],
  patchSecret: ["PATCH", "/api/v1/workspaces/{workspace}/secrets/{secret}"],
  deleteSecret: ["DELETE", "/api/v1/workspaces/{workspace}/secrets/{secret}"],
  listVersions: ["GET", "/api/v1/workspaces/{workspace}/secrets/{secret}/versions"],
  rollback: ["POST", "/api/v1/workspaces/{workspace}/secrets/{secret}/rollback"],
  readMetadata: ["GET", "/api/v1/workspaces/{workspace}/secrets/{secret}/metadata"],
  relay: ["POST", "/api/v1/workspaces/{workspace}/relay"],
  listRelayRoutes: ["GET", "/api/v1/workspaces/{workspace}/relay-routes"],
  putRelayRoute: ["PUT", "/api/v1/workspaces/{workspace}/relay-routes/{route}"],
  deleteRelayRoute: ["DELETE", "/api/v1/workspaces/{workspace}/relay-routes/{route}"],
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
  listApprovals: ["GET", "/api/v1/workspaces/{workspace}/approvals"],
  requestApproval: ["POST", "/api/v1/workspaces/{workspace}/approvals"],
  approve: ["POST", "/api/v1/workspaces/{workspace}/approvals/{id}/approve"],
  deny: ["POST", "/api/v1/workspaces/{workspace}/approvals/{id}/deny"],
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

/**
 * Failover between nodes. A request goes to the node that answered last; when
 * it cannot be had there, the next node is tried, each once:
 * - the connection could not be made (refused, no route, name not found):
 *   nothing was sent, so any call moves on;
 * - the connection failed later (reset, timed out): the request may have been
 *   carried out, so only calls safe to repeat move on (GET, HEAD, PUT, DELETE,
 *   and reads sent as POST); a POST or PATCH fails instead of running twice;
 * - the node answered 503 (sealed, draining, store unreachable, or a balancer
 *   with no node): it did nothing, so any call moves on.
 */
const CONNECT_FAILURES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "UND_ERR_CONNECT_TIMEOUT"]);
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
/** POST routes that only read or compute: repeating them changes nothing. */
const SAFE_POSTS: ReadonlySet<string> = new Set(["/api/v1/workspaces/{workspace}/secret-reads", "/api/v1/workspaces/{workspace}/secrets/{secret}/hmac", "/api/v1/workspaces/{workspace}/secrets/{secret}/verify"]);

/** The error code of a failed fetch: Node's fetch puts it on `cause`, node:http on the error itself. */
function networkCode(error: unknown): string | undefined {
  const own = (error as { code?: unknown })?.code;
  if (typeof own === "string") return own;
  const cause = (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof cause === "string" ? cause : undefined;
}

export function parseAddrs(addr: string | readonly string[]): string[] {
  const list = (typeof addr === "string" ? addr.split(",") : addr).map((one) => one.trim().replace(/\/+$/, "")).filter((one) => one !== "");
  if (list.length === 0) throw new TypeError("addr names no server address");
  return list;
}

export class Coffer {
  /** The address requests go to now (the first, or the node failed over to). */
  get addr(): string {
    return this.addrs[this.#current]!;
  }
  /** Every node address given, in order. */
  readonly addrs: readonly string[];
  readonly workspace: string;
  readonly secrets: Secrets;
  readonly sys: Sys;
  readonly relayRoutes: RelayRoutes;
  readonly tokens: Tokens;
  /** Requests waiting for a person's approval, and their decisions. */
  readonly approvals: Approvals;
  #token: string | undefined;
  #maxRetries: number;
  #fetch: typeof fetch;
  #csrfToken: string | undefined;
  #writeOnly: boolean;
  #attribution: Record<string, string>;
  #current = 0;

  constructor(options: CofferOptions = {}) {
    this.addrs = parseAddrs(options.addr ?? env.COFFER_ADDR ?? "http://127.0.0.1:8200");
    this.workspace = options.workspace ?? env.COFFER_WORKSPACE ?? "default";
    this.#token = options.token ?? env.COFFER_TOKEN;
    this.#maxRetries = options.maxRetries ?? 3;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#csrfToken = options.csrfToken;
    this.#writeOnly = options.writeOnly ?? false;
    this.secrets = new Secrets(this);
    this.sys = new Sys(this);
    this.relayRoutes = new RelayRoutes(this);
    this.tokens = new Tokens(this);
    this.approvals = new Approvals(this);
    this.#attribution = attributionHeaders(options.attribution ?? {});
  }

  /**
   * Has Coffer make an HTTP call with the `@{vault.NAME}` placeholders of its
   * headers, query string and body replaced by values (the caller needs only
   * `use`, and each secret's relay policy must allow the destination). The
   * answer comes back with every referenced value replaced by its
   * placeholder. A refusal (DESTINATION_NOT_ALLOWED, RATE_LIMITED, …) throws
   * a CofferError and nothing was sent; it is not retried, since a relay
   * cap's Retry-After can be an hour away. An upstream error status is an
   * answer, not an error.
   */
  relay(request: RelayRequest & { stream: true }): Promise<RelayStreamResponse>;
  relay(request: RelayRequest & { stream?: false }): Promise<RelayResponse>;
  relay(request: RelayRequest): Promise<RelayResponse | RelayStreamResponse>;
  async relay(request: RelayRequest): Promise<RelayResponse | RelayStreamResponse> {
    const response = await this.#send("relay", {}, { body: relayBody(request), relayed: Boolean(request.stream) });
    if (!request.stream) return JSON.parse(await response.text()) as RelayResponse;
    return { status: response.status, headers: headersOf(response), body: response.body };
  }

  /**
   * fetch(), relayed: the same arguments and a real Response, streamed as the
   * upstream streams. Placeholders go where values would (headers, query,
   * body); `scope` picks personal secrets. Hand it to any library that takes
   * a fetch: `new OpenAI({ fetch: coffer.fetch, apiKey: "@{vault.openai/api-key}" })`.
   */
  readonly fetch = async (input: string | URL | Request, init: RequestInit & { scope?: RelayRequest["scope"] } = {}): Promise<Response> => {
    const request = await relayRequestOf(input, init);
    const signal = init.signal ?? (typeof input === "object" && "signal" in input ? input.signal : undefined);
    const response = await this.#send("relay", {}, { body: relayBody({ ...request, ...(init.scope ? { scope: init.scope } : {}), stream: true }), relayed: true, signal });
    return responseOf(response);
  };

  /** A secret's relay policy, null when it has none (it cannot be relayed). */
  async relayPolicy(name: string, options: { scope?: SecretScope } = {}): Promise<RelayPolicy | null> {
    return (await this.secrets.metadata(name, options)).relayPolicy ?? null;
  }

  /** Sets (replaces whole) or, with null, removes a secret's relay policy; needs manage. */
  async setRelayPolicy(name: string, policy: RelayPolicyInput | null, options: { scope?: SecretScope } = {}): Promise<RelayPolicy | null> {
    return (await this.call<MetadataWithPolicy>("updateMetadata", { secret: name }, { query: options, body: { relayPolicy: policy } })).relayPolicy ?? null;
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

  /**
   * `relayed`: a relay call that streams. Its answer is the upstream's (marked
   * X-Coffer-Relay) whatever its status, and it is never retried; only an
   * unmarked answer is Coffer's own error.
   */
  async #send(
    route: RouteName | Route,
    params: Record<string, string>,
    options: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; relayed?: boolean; signal?: AbortSignal | null | undefined } = {},
  ): Promise<Response> {
    const [method, template] = typeof route === "string" ? ROUTES[route] : route;
    let path = template.replace(/\{(\w+)\}/g, (_, key: string) => encodeURIComponent(key === "workspace" ? (params.workspace ?? this.workspace) : params[key] ?? ""));
    const query = Object.entries(options.query ?? {}).filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined);
    if (query.length) path += "?" + new URLSearchParams(query.map(([k, v]): [string, string] => [k, String(v)])).toString();
    const safe = IDEMPOTENT_METHODS.has(method) || (method === "POST" && SAFE_POSTS.has(template));
    for (let attempt = 0; ; attempt++) {
      const response = await this.#failover(safe, (addr) =>
        this.#fetch(addr + path, {
          method,
          credentials: "same-origin",
          headers: {
            ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
            ...(options.body === undefined ? {} : { "content-type": "application/json" }),
            ...(this.#csrfToken && method !== "GET" && method !== "HEAD" ? { "x-csrf-token": this.#csrfToken } : {}),
            ...(this.#writeOnly ? { prefer: "return=minimal" } : {}),
            ...this.#attribution,
          },
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      );
      if (options.relayed && response.headers.get(RELAY_MARKER)) return response;
      if (response.status === 429 && attempt < this.#maxRetries && route !== "relay") {
        await response.text();
        await sleep(retryDelay(response.headers.get("retry-after"), attempt));
        continue;
      }
      if (!response.ok) throw errorOf(response.status, await response.text(), response.headers.get("retry-after"));
      return response;
    }
  }

  /** Sends to the current node, then to each other node once, as the rules above Coffer allow. */
  async #failover(safe: boolean, send: (addr: string) => Promise<Response>): Promise<Response> {
    const count = this.addrs.length;
    for (let tried = 1; ; tried++) {
      const index = this.#current;
      const last = tried >= count;
      let response: Response;
      try {
        response = await send(this.addrs[index]!);
      } catch (error) {
        const code = networkCode(error);
        const nothingSent = code !== undefined && CONNECT_FAILURES.has(code);
        if (last || !(nothingSent || safe)) throw error;
        this.#current = (index + 1) % count;
        continue;
      }
      if (response.status === 503 && !last) {
        await response.text().catch(() => {});
        this.#current = (index + 1) % count;
        continue;
      }
      return response;
    }
  }
}

/** A secret's metadata with its relay policy (null: none; absent: a server without the relay). */
export type MetadataWithPolicy = SecretMetadata & { relayPolicy?: RelayPolicy | null };

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

/**
 * Lifecycle settings of a secret: days between rotations (null clears),
 * self-rotation for HMAC and INTERNAL_API_KEY, and when it expires (ISO 8601
 * or a Date; null removes the expiry): after it, reads and uses answer
 * SECRET_EXPIRED.
 */
export interface RotationOptions {
  rotationIntervalDays?: number | null;
  autoRotate?: boolean;
  expiresAt?: string | Date | null;
}

/** A canary (docs/agents.md): Coffer generates a decoy in `canaryFormat` (default aws), and any read or use raises canary.triggered. */
export interface CanaryOptions {
  canary?: boolean;
  canaryFormat?: CanaryFormat;
}

/** A shared secret nobody has read or used for a while (`secrets.unused`). */
export interface UnusedSecret {
  id: string;
  name: string;
  label: string;
  type: string;
  createdAt: string;
  /** null: never read or used since it was created. */
  lastUsedAt: string | null;
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

  /**
   * One folder level: the folders directly under `prefix` (a folder ending in
   * '/', or '' for the top) with how many secrets the caller sees in each,
   * and how many secrets sit directly in it. Names only, never a value.
   */
  folders(prefix = "", options: { scope?: SecretScope; limit?: number } = {}): Promise<SecretFolderLevel> {
    return this.#coffer.call("listSecretFolders", {}, { query: { ...options, ...(prefix ? { prefix } : {}) } });
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

  /** Give no data for a canary, or for an HMAC or INTERNAL_API_KEY secret whose value the server generates. */
  create(name: string, data: SecretData | undefined, options: { type?: SecretType; label?: string; tags?: string[]; scope?: SecretScope } & RotationOptions & CanaryOptions = {}): Promise<Secret> {
    return this.#coffer.call("createSecret", {}, { body: { name, ...(data ? { data } : {}), ...withIsoExpiry(options) } });
  }

  /** Shared secrets not read or used for `days` (default: the workspace's unusedAlertDays, else 90); workspace owners and admins. */
  async unused(options: { days?: number } = {}): Promise<UnusedSecret[]> {
    return (await this.#coffer.call<{ secrets: UnusedSecret[] }>("unusedSecrets", {}, { query: options })).secrets;
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
    return this.#coffer.call(merge ? "patchSecret" : "replaceSecret", { secret: name }, { query: { scope }, body: { data, ...withIsoExpiry(body) } });
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
  metadata(name: string, options: { scope?: SecretScope } = {}): Promise<MetadataWithPolicy> {
    return this.#coffer.call("readMetadata", { secret: name }, { query: options });
  }

  /** Changes casRequired, maxVersions (null: the workspace's), deleteVersionAfter (seconds), customMetadata (replaced whole) or expiresAt (null: never). */
  updateMetadata(name: string, settings: Partial<SecretSettings> & Pick<RotationOptions, "expiresAt">, options: { scope?: SecretScope } = {}): Promise<SecretMetadata> {
    return this.#coffer.call("updateMetadata", { secret: name }, { query: options, body: withIsoExpiry(settings) });
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

/** A Date expiry travels as ISO 8601. */
function withIsoExpiry<T extends { expiresAt?: string | Date | null }>(options: T): T {
  return options.expiresAt instanceof Date ? { ...options, expiresAt: options.expiresAt.toISOString() } : options;
}
