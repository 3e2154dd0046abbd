/**
 * The relay, client side: Coffer makes an HTTP call for the caller with
 * `@{vault.NAME}` / `@{vault.NAME.KEY}` placeholders replaced by secret
 * values, so an agent holding only `use` never receives a value. What comes
 * back has every referenced value replaced by its placeholder again.
 *
 * Wire shapes: docs/relay.md (server) and docs/relay-clients.md (clients).
 */
import type { RelayBodyEncoding, RelayPolicy, RelayResponse, RelayRoute, SecretScope } from "@coffer/protocol";

export type { RelayPolicy, RelayResponse, RelayRoute };

/** A policy to write: `hosts` is required, every other field falls back to its default. */
export type RelayPolicyInput = Pick<RelayPolicy, "hosts"> & Partial<RelayPolicy>;

export interface RelayRequest {
  /** Default GET. */
  method?: string;
  /** May hold placeholders in the query string: `https://api.example.com/v1?key=@{vault.maps-key}`. */
  url: string;
  /** Values may hold placeholders: `{ Authorization: "Bearer @{vault.openai/api-key}" }`. */
  headers?: Record<string, string>;
  /** Text (may hold placeholders) or bytes (sent base64, as `bodyEncoding: "base64"`). */
  body?: string | Uint8Array;
  /** How a string body is encoded; default utf8. */
  bodyEncoding?: RelayBodyEncoding;
  /** Which secrets the placeholders name: the workspace's (default) or the caller's personal ones. */
  scope?: SecretScope;
  /** Pass the upstream's answer through as a stream (SSE, chunked) instead of one JSON answer. */
  stream?: boolean;
}

/** A streamed answer: the upstream's status and (redacted) headers, and the redacted body as it arrives. */
export interface RelayStreamResponse {
  status: number;
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array> | null;
}

/** Who is calling, recorded with every relayed call in the audit log (sent as X-Coffer-Agent/-Session/-Tool). */
export interface Attribution {
  agent?: string;
  session?: string;
  tool?: string;
}


export interface RelayRouteInput {
  target: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  description?: string;
}

/** The answer header Coffer adds when the status and body are the upstream's, not Coffer's own (a refusal). */
export const RELAY_MARKER = "x-coffer-relay";

export function attributionHeaders(attribution: Attribution): Record<string, string> {
  const headers: Record<string, string> = {};
  if (attribution.agent) headers["x-coffer-agent"] = attribution.agent;
  if (attribution.session) headers["x-coffer-session"] = attribution.session;
  if (attribution.tool) headers["x-coffer-tool"] = attribution.tool;
  return headers;
}

/** The JSON body of `POST …/relay`. */
export function relayBody(request: RelayRequest): Record<string, unknown> {
  const { body, bodyEncoding, method, ...rest } = request;
  const encoded = body === undefined ? {} : typeof body === "string" ? { body, ...(bodyEncoding ? { bodyEncoding } : {}) } : { body: base64Of(body), bodyEncoding: "base64" };
  return { ...rest, method: (method ?? "GET").toUpperCase(), ...encoded };
}

/**
 * A fetch() call's arguments as a relay request. The URL is kept as the
 * caller wrote it (parsing would percent-encode the braces of a
 * placeholder); a Request, FormData, Blob or stream body is read through a
 * Request, which also supplies the content-type it implies.
 */
export async function relayRequestOf(input: string | URL | Request, init: RequestInit = {}): Promise<RelayRequest> {
  const base = typeof input === "string" || input instanceof URL ? undefined : input;
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  const method = (init.method ?? base?.method ?? "GET").toUpperCase();
  const headers: Record<string, string> = {};
  new Headers(base?.headers).forEach((value, name) => (headers[name] = value));
  new Headers(init.headers).forEach((value, name) => (headers[name] = value));
  const request: RelayRequest = { method, url, headers };
  if (typeof init.body === "string") {
    request.body = init.body;
  } else if (init.body !== undefined && init.body !== null) {
    // Any other BodyInit: let a Request read it (a placeholder-free URL stands in for the real one).
    const reader = new Request("http://relay.invalid/", { method: "POST", body: init.body, ...(isStream(init.body) ? { duplex: "half" } : {}) } as RequestInit);
    const type = reader.headers.get("content-type");
    if (type && !("content-type" in headers)) headers["content-type"] = type;
    request.body = await bytesOrText(await reader.arrayBuffer());
  } else if (base?.body && init.body === undefined) {
    request.body = await bytesOrText(await base.clone().arrayBuffer());
  }
  return request;
}

/** The relayed answer as a fetch Response: Coffer's own marker header stays, for callers that want to know. */
export function responseOf(response: Response): Response {
  // These statuses cannot carry a body in a Response.
  const empty = response.status === 204 || response.status === 205 || response.status === 304;
  return new Response(empty ? null : response.body, { status: response.status, statusText: response.statusText ?? "", headers: headersOf(response) });
}

export function headersOf(response: { headers: { forEach(fn: (value: string, name: string) => void): void } }): Record<string, string> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  return headers;
}

function isStream(body: unknown): boolean {
  return typeof ReadableStream !== "undefined" && body instanceof ReadableStream;
}

/** UTF-8 text when the bytes are valid UTF-8 (placeholders in it are substituted as written), else the bytes. */
async function bytesOrText(buffer: ArrayBuffer): Promise<string | Uint8Array> {
  const bytes = new Uint8Array(buffer);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return bytes;
  }
}

/** base64 without Buffer (browsers, Deno): btoa over chunks of a binary string. */
function base64Of(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** What the routes need of a Coffer client (not an import of it: index.ts imports this module). */
interface RouteCaller {
  call<T>(route: "listRelayRoutes" | "putRelayRoute" | "deleteRelayRoute", params: Record<string, string>, options?: { body?: unknown }): Promise<T>;
}

/** The workspace's base-URL routes: any member lists them, workspace admins put and delete them. */
export class RelayRoutes {
  #coffer: RouteCaller;

  constructor(coffer: RouteCaller) {
    this.#coffer = coffer;
  }

  async list(): Promise<RelayRoute[]> {
    return (await this.#coffer.call<{ routes: RelayRoute[] }>("listRelayRoutes", {})).routes;
  }

  /** Creates or replaces the route `name` ([a-z0-9][a-z0-9-]{0,62}). */
  put(name: string, route: RelayRouteInput): Promise<RelayRoute> {
    return this.#coffer.call("putRelayRoute", { route: name }, { body: route });
  }

  async delete(name: string): Promise<void> {
    await this.#coffer.call("deleteRelayRoute", { route: name });
  }
}
