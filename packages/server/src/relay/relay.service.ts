/**
 * The relay: Coffer makes an HTTP call for a caller that holds only `use` on
 * the secrets it names, and the caller never receives a value. Everything
 * is checked before a byte leaves: the caller's level on each secret, each
 * secret's policy (destination and placement), header injection, the
 * addresses the host resolves to; then the values are put in, the request
 * is sent, and the answer comes back redacted (redaction.ts).
 */
import type { SecretData } from "@coffer/protocol";
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { CofferError, invalid } from "../core/errors.ts";
import type { ApprovalGate } from "../approval/approval.service.ts";
import type { SecretRow } from "../secret/secret.repository.ts";
import type { SecretContext, SecretService } from "../secret/secret.service.ts";
import { destinationOf, Outbound, type UpstreamAnswer } from "./outbound.ts";
import { hasMalformedPlaceholder, mapLiterals, placeholdersIn, substitute, type PlaceholderRef } from "./placeholders.ts";
import {
  checkDestination,
  checkPlacement,
  compilePolicy,
  HEADER_NAME,
  isInternalAddress,
  namesAddress,
  notAllowed,
  parsePolicy,
  type CompiledPolicy,
  type Placement,
} from "./relay-policy.ts";
import { Redactor } from "./redaction.ts";

export const MAX_REQUEST_BODY = 1024 * 1024;
export const DEFAULT_TIMEOUT_SECONDS = 30;
const METHOD = /^[A-Z]{1,20}$/;
/** Control characters but tab: CR and LF would start a new header (injection); the others are refused by HTTP anyway. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/** Headers the relay sets itself, never the caller. */
const OWN_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection", "proxy-authorization", "accept-encoding"]);
/** Not passed back: they describe the hop to Coffer, or a body whose length and encoding redaction changes. */
const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-connection", "content-length", "content-encoding"]);
/**
 * An answer that says it is at most this long (Content-Length, not
 * compressed) is read whole, redacted in one pass and sent in one piece
 * with its length. Anything else (streams, SSE, larger bodies) passes
 * through as a stream.
 */
const WHOLE_ANSWER_BYTES = 64 * 1024;
/** Redactors kept per payload: one per placeholder that names it (NAME, NAME.KEY, the id), and the keys are at most 100. */
const MAX_REDACTORS_PER_PAYLOAD = 256;

export interface RelayInput {
  method: string;
  url: string;
  headers?: Record<string, string> | undefined;
  body?: Buffer | undefined;
  /** Seconds the upstream may stay silent; at most the server's setting. */
  timeout?: number | undefined;
}

/** What the audit records of a relayed call, filled in as it goes: never a value. */
export interface RelayRecord {
  secrets: { id: string; name: string }[];
  host: string;
  method: string;
  status: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface RelayAnswer {
  status: number;
  /** Filtered (no hop-by-hop, length or encoding) and redacted. */
  headers: Record<string, string | string[]>;
  /** Redacted: whole when the upstream's answer was small and of known length, else as it streams. */
  body: Buffer | Readable;
}

interface Use {
  placeholder: PlaceholderRef;
  row: SecretRow;
  /** The decrypted payload the value is from: the secret cache's object, the same until the secret changes. */
  data: Readonly<SecretData>;
  value: string;
  policy: CompiledPolicy;
}

export interface RelaySettings {
  /** The longest an upstream may stay silent, in seconds (--relay-timeout); also the default. */
  timeoutSeconds: number;
  /** Counts one use of `secret` by the caller's token, or throws RATE_LIMITED (per-token caps). */
  countUse?: (ctx: SecretContext, secret: SecretRow) => void | Promise<void>;
  /** Secrets that need a person's approval for each use wait for it here, after every other check passed. */
  approvals?: ApprovalGate;
}

export class RelayService {
  #secrets: SecretService;
  #settings: RelaySettings;
  #outbound = new Outbound();
  /** Compiled once per cached secret row: a row object is replaced whenever its secret changes. */
  #policies = new WeakMap<SecretRow, CompiledPolicy | null>();
  /**
   * A call that uses one secret (the usual case) reuses the redactor built
   * for its value (the forms and the pattern cost more than the rest of the
   * call's own work); each lives as long as the cached payload it redacts.
   */
  #redactors = new WeakMap<Readonly<SecretData>, Map<string, { value: string; redactor: Redactor }>>();
  /** Each cached route's templates, worked out once: the route cache replaces a route's object when it changes. */
  #routeParts = new WeakMap<RouteTemplates, RouteParts>();

  constructor(secrets: SecretService, settings: RelaySettings) {
    this.#secrets = secrets;
    this.#settings = settings;
  }

  get timeoutSeconds(): number {
    return this.#settings.timeoutSeconds;
  }

  /** Checks, substitutes and sends; the answer is redacted. Refusals throw before anything is sent. */
  async relay(ctx: SecretContext, input: RelayInput, record: RelayRecord): Promise<RelayAnswer> {
    const method = this.#method(input.method, record);
    const timeout = this.#timeout(input.timeout);
    if (input.body !== undefined && input.body.length > MAX_REQUEST_BODY) throw tooLarge();
    return this.#send(ctx, method, parseRequest(input.url, input.headers ?? {}, input.body), timeout, record);
  }

  /**
   * A call through a base-URL route: only the route's templates name
   * secrets. What the caller sends (path, query, headers, body) travels as
   * written and is never searched for placeholders, so text an agent was
   * talked into sending cannot pull a value into a place the upstream shows.
   */
  async relayRoute(ctx: SecretContext, route: RouteTemplates, input: RouteInput, record: RelayRecord): Promise<RelayAnswer> {
    const method = this.#method(input.method, record);
    if (input.body !== undefined && input.body.length > MAX_REQUEST_BODY) throw tooLarge();
    let parts = this.#routeParts.get(route);
    if (parts === undefined) this.#routeParts.set(route, (parts = routeParts(route)));
    return this.#send(ctx, method, routeRequest(route, parts, input), this.#settings.timeoutSeconds, record);
  }

  #method(given: string, record: RelayRecord): string {
    const method = given.toUpperCase();
    record.method = method;
    if (!METHOD.test(method)) throw invalid(`'${given}' is not an HTTP method`);
    return method;
  }

  #timeout(given: number | undefined): number {
    const timeout = given ?? this.#settings.timeoutSeconds;
    if (!Number.isFinite(timeout) || timeout <= 0 || timeout > this.#settings.timeoutSeconds) {
      throw invalid(`timeout is a number of seconds up to ${this.#settings.timeoutSeconds} (the server's --relay-timeout)`);
    }
    return timeout;
  }

  async #send(ctx: SecretContext, method: string, request: PreparedRequest, timeout: number, record: RelayRecord): Promise<RelayAnswer> {
    const base = new URL(request.base);
    record.host = base.hostname;

    const uses = await this.#resolve(ctx, request.placed, record);
    if (uses.size === 0) throw invalid("the request uses no secret (@{vault.NAME}): the relay only sends requests that do");
    const all = [...uses.values()];
    const first = destinationOf(base, method);
    for (const [text, placements] of request.placed) {
      const use = uses.get(text)!;
      for (const placement of placements) checkPlacement(use.row.name, use.policy, placement);
    }
    for (const use of all) checkDestination(use.row.name, use.policy, first);
    const rows = new Set(all.map((use) => use.row));
    if (this.#settings.approvals) for (const row of rows) await this.#settings.approvals.awaitUse(ctx, row, "relay");
    if (this.#settings.countUse) for (const row of rows) await this.#settings.countUse(ctx, row);

    const valueOf = (ref: PlaceholderRef) => uses.get(ref.text)!.value;
    const query = request.query?.map((part) => (part.template ? substitute(part.text, (ref) => encodeURIComponent(valueOf(ref))) : part.text));
    const url = query === undefined ? base : new URL(request.base + "?" + query.join("&"));
    const headers: Record<string, string> = {};
    for (const { name, value: template, template: isTemplate } of request.headers) {
      if (!isTemplate) {
        headers[name] = template;
        continue;
      }
      const value = substitute(template, valueOf);
      // Checked after substitution: a value holding CR or LF would add headers of its own.
      if (CONTROL.test(value)) throw invalid(`header '${name}' would hold a control character (CR, LF, …) once its placeholders are filled in; refused`);
      headers[name] = value;
    }
    let sent = request.body;
    if (sent !== undefined && request.bodyPlaceholders) {
      sent = Buffer.from(substitute(sent.toString("latin1"), (ref) => Buffer.from(valueOf(ref), "utf8").toString("latin1")), "latin1");
      if (sent.length > MAX_REQUEST_BODY) throw tooLarge();
    }
    record.bytesSent = sent?.length ?? 0;
    const redactor = this.#redactorFor(all);
    const answer = await this.#outbound.send(
      { url, method, headers, body: sent, wholeUpTo: WHOLE_ANSWER_BYTES },
      {
        timeoutMs: timeout * 1000,
        destination: (to) => {
          for (const use of all) checkDestination(use.row.name, use.policy, to);
        },
        address: (host, address) => {
          if (!isInternalAddress(address)) return;
          const refusing = all.find((use) => !namesAddress(use.policy, address));
          if (refusing) {
            throw notAllowed(refusing.row.name, `host '${host}' resolves to ${address}, a loopback, private or link-local address that the policy does not name (addresses)`);
          }
        },
      },
    );
    record.status = answer.status;
    record.host = answer.host;
    return this.#redacted(answer, redactor, record);
  }

  close(): void {
    this.#outbound.close();
  }

  #redactorFor(uses: Use[]): Redactor {
    const build = () => new Redactor(uses.map((use) => ({ placeholder: use.placeholder.text, value: use.value })));
    if (uses.length !== 1) return build();
    const use = uses[0]!;
    let built = this.#redactors.get(use.data);
    if (built === undefined) this.#redactors.set(use.data, (built = new Map()));
    const cached = built.get(use.placeholder.text);
    // The value is compared too: a redactor for anything but this exact value would let it through.
    if (cached !== undefined && cached.value === use.value) return cached.redactor;
    if (built.size >= MAX_REDACTORS_PER_PAYLOAD) built.clear();
    const redactor = build();
    built.set(use.placeholder.text, { value: use.value, redactor });
    return redactor;
  }

  /** Each distinct placeholder's secret and value: the caller needs `use` on each. */
  async #resolve(ctx: SecretContext, placed: Map<string, Placement[]>, record: RelayRecord): Promise<Map<string, Use>> {
    const uses = new Map<string, Use>();
    for (const text of placed.keys()) {
      const path = text.slice("@{vault.".length, -1);
      const { row, data, key } = await this.#secretOf(ctx, path);
      if (!record.secrets.some((secret) => secret.id === row.id)) record.secrets.push({ id: row.id, name: row.name });
      const value = valueIn(row, data, key);
      let policy = this.#policies.get(row);
      if (policy === undefined) {
        const parsed = parsePolicy(row.relayPolicy);
        policy = parsed === null ? null : compilePolicy(parsed);
        this.#policies.set(row, policy);
      }
      if (policy === null) throw new CofferError("DESTINATION_NOT_ALLOWED", `secret '${row.name}' has no relay policy, so it cannot be relayed; its owner sets one in its metadata`);
      uses.set(text, { placeholder: { text, path }, row, data, value, policy });
    }
    return uses;
  }

  /** `NAME` if it is a secret, else `NAME.KEY` split at the last dot. */
  async #secretOf(ctx: SecretContext, path: string): Promise<{ row: SecretRow; data: Readonly<SecretData>; key: string | undefined }> {
    try {
      return { ...(await this.#secrets.useCurrent(ctx, path)), key: undefined };
    } catch (error) {
      const dot = path.lastIndexOf(".");
      if (!(error instanceof CofferError) || error.code !== "SECRET_NOT_FOUND" || dot <= 0) throw error;
      const key = path.slice(dot + 1);
      try {
        return { ...(await this.#secrets.useCurrent(ctx, path.slice(0, dot))), key };
      } catch (second) {
        if (second instanceof CofferError && second.code === "SECRET_NOT_FOUND") throw error;
        throw second;
      }
    }
  }

  #redacted(answer: UpstreamAnswer, redactor: Redactor, record: RelayRecord): RelayAnswer {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(answer.headers as IncomingHttpHeaders)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      headers[name] = Array.isArray(value) ? value.map((item) => redactor.text(item)) : redactor.text(value);
    }
    if (Buffer.isBuffer(answer.body)) {
      record.bytesReceived = answer.body.length;
      return { status: answer.status, headers, body: redactor.bytes(answer.body) };
    }
    const body = answer.body.pipe(redactor.stream((bytes) => (record.bytesReceived += bytes)));
    answer.body.on("error", (error) => body.destroy(error));
    return { status: answer.status, headers, body };
  }
}

/** A request ready to be checked and filled in: which parts are templates, and where each placeholder is. */
interface PreparedRequest {
  /** The URL up to its query: it holds no placeholder. */
  base: string;
  /** The query's `&`-separated parts; placeholders only in templates' values. */
  query: { text: string; template: boolean }[] | undefined;
  headers: { name: string; value: string; template: boolean }[];
  body: Buffer | undefined;
  /** Each distinct placeholder and where it is placed. */
  placed: Map<string, Placement[]>;
  bodyPlaceholders: boolean;
}

/** Collects each distinct placeholder and where it is placed; refuses text with something that is almost a placeholder. */
class Placements {
  readonly placed = new Map<string, Placement[]>();

  add(text: string, placement: Placement): void {
    if (hasMalformedPlaceholder(text)) throw invalid("something looks like a placeholder but is not one: write @{vault.NAME} or @{vault.NAME.KEY}");
    for (const ref of placeholdersIn(text)) {
      const list = this.placed.get(ref.text) ?? [];
      list.push(placement);
      this.placed.set(ref.text, list);
    }
  }
}

/** A header the caller (or a route's template) may set, and whose value may hold placeholders. */
export function checkHeader(name: string, value: unknown): void {
  if (!HEADER_NAME.test(name)) throw invalid(`'${name}' is not a header name`);
  if (OWN_HEADERS.has(name.toLowerCase())) throw invalid(`header '${name}' is set by the relay, not the caller`);
  if (typeof value !== "string") throw invalid(`header '${name}' is a string`);
  if (CONTROL.test(value)) throw invalid(`header '${name}' holds a control character (CR, LF, …)`);
}

/** `POST …/relay`: placeholders only in query parameter values, header values and the body. */
function parseRequest(rawUrl: string, headers: Record<string, string>, body: Buffer | undefined): PreparedRequest {
  const placements = new Placements();
  const hash = rawUrl.indexOf("#");
  const url = hash < 0 ? rawUrl : rawUrl.slice(0, hash);
  const question = url.indexOf("?");
  const base = question < 0 ? url : url.slice(0, question);
  if (base.includes("@{vault.")) throw invalid("placeholders go in query parameter values, header values or the body, not in the URL's host or path");
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw invalid("url is not an absolute URL");
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw invalid("url is an http or https URL");
  if (parsed.username || parsed.password) throw invalid("url may not carry credentials; put them in a header with a placeholder");
  const query = question < 0 ? undefined : url.slice(question + 1).split("&");
  for (const part of query ?? []) {
    const equals = part.indexOf("=");
    const name = equals < 0 ? part : part.slice(0, equals);
    if (name.includes("@{vault.")) throw invalid("placeholders go in query parameter values, not names");
    if (equals >= 0) placements.add(part.slice(equals + 1), { kind: "query", name: decodeQueryName(name) });
  }
  for (const [name, value] of Object.entries(headers)) {
    checkHeader(name, value);
    placements.add(value, { kind: "header", name });
  }
  let bodyPlaceholders = false;
  if (body !== undefined && body.includes("@{vault.")) {
    placements.add(body.toString("latin1"), { kind: "body" });
    bodyPlaceholders = true;
  }
  return {
    base,
    query: query?.map((text) => ({ text, template: true })),
    headers: Object.entries(headers).map(([name, value]) => ({ name, value, template: true })),
    body,
    placed: placements.placed,
    bodyPlaceholders,
  };
}

/** A base-URL route's templates: placeholders, never values (relay-routes.service.ts checks them when they are saved). */
export interface RouteTemplates {
  /** http(s) origin and optional path prefix, without a trailing slash. */
  target: string;
  headers: Readonly<Record<string, string>>;
  query: Readonly<Record<string, string>>;
}

/** What the caller sent to `/relay/{ws}/{route}…`, as it came. */
export interface RouteInput {
  method: string;
  /** The raw path after the route's name: "" or starting with "/". */
  path: string;
  /** The raw query string, without "?". */
  query: string | undefined;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

/** The caller's credential for Coffer, and what a browser would add for Coffer's own origin: never passed on. */
const CALLER_ONLY = new Set(["authorization", "x-api-key", "cookie", "expect"]);
/** `.` and `..` segments (also percent-encoded): a routed path stays under the route's target. */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

/** What a route's templates add to every call through it: worked out once per route (a changed route is a new object). */
interface RouteParts {
  query: PreparedRequest["query"] & {};
  headers: PreparedRequest["headers"];
  /** Header names the templates set: the caller's own are dropped. */
  templated: ReadonlySet<string>;
  /** Read only: shared by every call through the route. */
  placed: Map<string, Placement[]>;
}

function routeParts(route: RouteTemplates): RouteParts {
  const placements = new Placements();
  const query: RouteParts["query"] = [];
  for (const [name, template] of Object.entries(route.query)) {
    placements.add(template, { kind: "query", name });
    query.push({ text: `${encodeURIComponent(name)}=${mapLiterals(template, encodeURIComponent)}`, template: true });
  }
  const headers: RouteParts["headers"] = [];
  for (const [name, value] of Object.entries(route.headers)) {
    placements.add(value, { kind: "header", name });
    headers.push({ name, value, template: true });
  }
  return { query, headers, templated: new Set(Object.keys(route.headers).map((name) => name.toLowerCase())), placed: placements.placed };
}

/** A routed call: the caller's parts pass as written; the route's templates are the only places a value goes. */
function routeRequest(route: RouteTemplates, parts: RouteParts, input: RouteInput): PreparedRequest {
  if (input.path !== "" && !input.path.startsWith("/")) throw invalid("a routed path starts with '/'");
  if (DOT_SEGMENT.test(input.path)) throw invalid("a routed path may not hold '.' or '..' segments: it stays under the route's target");
  // The caller's query passes as one part, as written.
  const query = input.query === undefined || input.query === "" ? parts.query : [{ text: input.query, template: false }, ...parts.query];
  const headers: PreparedRequest["headers"] = [];
  for (const [name, value] of Object.entries(input.headers)) {
    const lower = name.toLowerCase();
    if (OWN_HEADERS.has(lower) || CALLER_ONLY.has(lower) || lower.startsWith("x-coffer-") || parts.templated.has(lower)) continue;
    headers.push({ name, value, template: false });
  }
  headers.push(...parts.headers);
  return { base: route.target + input.path, query: query.length === 0 ? undefined : query, headers, body: input.body, placed: parts.placed, bodyPlaceholders: false };
}

function decodeQueryName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, " "));
  } catch {
    throw invalid(`query parameter name '${name}' is not valid URL encoding`);
  }
}

function valueIn(row: SecretRow, data: Readonly<SecretData>, key: string | undefined): string {
  if (key === undefined) {
    const keys = Object.keys(data);
    if (keys.length !== 1) throw invalid(`secret '${row.name}' has ${keys.length} keys: name one, as @{vault.${row.name}.KEY}`);
    return data[keys[0]!]!;
  }
  const value = data[key];
  if (value === undefined) throw invalid(`secret '${row.name}' has no key '${key}'`);
  return value;
}

function tooLarge(): CofferError {
  return new CofferError("PAYLOAD_TOO_LARGE", `a relayed request's body is at most ${MAX_REQUEST_BODY / 1024 / 1024} MiB`);
}
