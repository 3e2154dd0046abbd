/**
 * The relay's side of the network. A destination's name is resolved once,
 * each address is checked (loopback, private and link-local ones only where
 * a policy names them), and the connection goes to the checked address
 * through `lookup`, so a DNS answer that changes between the check and the
 * connect (rebinding) cannot move it; TLS still verifies the name. A name's
 * addresses are kept a few seconds (a busy agent calls one API many times a
 * second), and every call checks them again, cached or not. Redirects
 * are followed here, each hop checked like the first. Connections are kept
 * alive in a pool per checked address (undici: its client costs about half
 * of node:http's per call, which the relay pays on every call).
 */
import { lookup as dnsLookup } from "node:dns/promises";
import type { IncomingHttpHeaders } from "node:http";
import { isIP, type LookupFunction } from "node:net";
import { Transform, type Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { Dispatcher, Pool } from "undici";
import { Cache } from "../core/cache.ts";
import { CofferError } from "../core/errors.ts";
import type { Destination } from "./relay-policy.ts";
import { DEFAULT_PORTS } from "./relay-policy.ts";

export const MAX_REDIRECTS = 5;
export const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
const MAX_POOLS = 1000;
/** How long a name's resolved addresses are reused, and for how many names at most. */
const NAME_TTL_MS = 5_000;
const MAX_NAMES = 1000;
/** Connections per pool: as many calls to one upstream as may be in flight at once. */
const POOL_CONNECTIONS = 256;
/** undici is loaded by the first relayed call, not at start-up: loading it takes ~100 ms. */
let undici: Promise<{ Pool: typeof Pool }> | undefined;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface OutboundRequest {
  url: URL;
  method: string;
  /** Header name → value, already substituted and checked. */
  headers: Record<string, string>;
  body: Buffer | undefined;
  /**
   * An answer that declares itself at most this long (Content-Length, no
   * content encoding) is read whole here: cheaper than a stream for an
   * API's usual small JSON. 0: every answer is a stream.
   */
  wholeUpTo?: number;
}

export interface OutboundChecks {
  /** Throws when a hop's destination is refused (every referenced policy). */
  destination(to: Destination): void;
  /** Throws when `host` may not be reached at `address`. */
  address(host: string, address: string): void;
  /** How long the upstream may stay silent, in milliseconds. */
  timeoutMs: number;
}

export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /**
   * The decoded body: whole when the answer was small (wholeUpTo), else a
   * stream of at most MAX_RESPONSE_BYTES (past that it fails with UPSTREAM_RESPONSE_TOO_LARGE).
   */
  body: Buffer | Readable;
  /** The host that answered (after redirects). */
  host: string;
}

export function destinationOf(url: URL, method: string): Destination {
  const scheme = url.protocol.slice(0, -1);
  const name = url.hostname.toLowerCase();
  const host = name.startsWith("[") ? name.slice(1, -1) : name;
  return { scheme, host, port: url.port === "" ? (DEFAULT_PORTS[scheme] ?? 0) : Number(url.port), method };
}

export class Outbound {
  #pools = new Map<string, Pool>();
  #names = new Cache<string, { addresses: string[]; until: number }>(MAX_NAMES);

  async send(request: OutboundRequest, checks: OutboundChecks): Promise<UpstreamAnswer> {
    const { Pool } = await (undici ??= import("undici"));
    let { url, method, body } = request;
    for (let hop = 0; ; hop++) {
      const to = destinationOf(url, method);
      checks.destination(to);
      const address = await this.#resolve(to.host, checks);
      const response = await this.#exchange(this.#pool(Pool, to, address), url, to, method, request.headers, body, checks.timeoutMs);
      const location = response.headers.location;
      if (!REDIRECTS.has(response.statusCode) || typeof location !== "string") {
        const headers = response.headers as IncomingHttpHeaders;
        const whole = method !== "HEAD" && isPlainUpTo(headers, request.wholeUpTo ?? 0);
        return { status: response.statusCode, headers, body: whole ? await readWhole(response.body, to.host) : decoded(response), host: to.host };
      }
      response.body.resume();
      if (hop === MAX_REDIRECTS) throw new CofferError("UPSTREAM_ERROR", `the upstream redirected more than ${MAX_REDIRECTS} times`);
      try {
        url = new URL(location, url);
      } catch {
        throw new CofferError("UPSTREAM_ERROR", "the upstream redirected to an invalid URL");
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new CofferError("UPSTREAM_ERROR", "the upstream redirected to a URL that is not http(s)");
      // As fetch does: 303, and 301/302 after a POST, continue as a GET without the body.
      if (response.statusCode === 303 || ((response.statusCode === 301 || response.statusCode === 302) && method === "POST")) {
        if (method !== "HEAD") method = "GET";
        body = undefined;
      }
    }
  }

  close(): void {
    for (const pool of this.#pools.values()) pool.destroy().catch(() => {});
    this.#pools.clear();
  }

  async #resolve(host: string, checks: OutboundChecks): Promise<string> {
    const addresses = isIP(host) !== 0 ? [host] : await this.#lookup(host);
    // Every address the name has must pass, not just the one used: the answer is the resolver's to choose.
    for (const address of addresses) checks.address(host, address);
    const first = addresses[0];
    if (first === undefined) throw new CofferError("UPSTREAM_ERROR", `the host '${host}' has no address`);
    return first;
  }

  /** The name's addresses, from the resolver or resolved less than NAME_TTL_MS ago; a failure is not kept. */
  async #lookup(host: string): Promise<string[]> {
    const now = Date.now();
    const cached = this.#names.get(host);
    if (cached !== undefined && cached.until > now) return cached.addresses;
    let addresses: string[];
    try {
      addresses = (await dnsLookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
    } catch {
      throw new CofferError("UPSTREAM_ERROR", `the host '${host}' could not be resolved`);
    }
    this.#names.set(host, { addresses, until: now + NAME_TTL_MS }, this.#names.epoch);
    return addresses;
  }

  #pool(PoolClass: typeof Pool, to: Destination, address: string): Pool {
    const key = `${to.scheme}\u0000${to.host}\u0000${to.port}\u0000${address}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      if (this.#pools.size >= MAX_POOLS) {
        const [oldest, old] = this.#pools.entries().next().value!;
        this.#pools.delete(oldest);
        old.destroy().catch(() => {});
      }
      const family = isIP(address);
      // The name stays the origin's (Host header, TLS name and certificate check); the connection goes to the checked address.
      const lookup: LookupFunction = (_hostname, options, callback) => {
        if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
        else callback(null, address, family);
      };
      const host = isIP(to.host) === 6 ? `[${to.host}]` : to.host;
      pool = new PoolClass(`${to.scheme}://${host}:${to.port}`, { connections: POOL_CONNECTIONS, connect: { lookup } });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  async #exchange(pool: Pool, url: URL, to: Destination, method: string, headers: Record<string, string>, body: Buffer | undefined, timeoutMs: number): Promise<Dispatcher.ResponseData> {
    // Redaction must see the bytes: ask for them plain (an upstream that compresses anyway is decoded).
    const outgoing: Record<string, string> = { ...headers, "accept-encoding": "identity" };
    // Until the answer's headers: connecting and waiting both count. Then silence between its chunks (bodyTimeout).
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      return await pool.request({
        path: url.pathname + url.search,
        method: method as Dispatcher.HttpMethod,
        headers: outgoing,
        body,
        signal: abort.signal,
        headersTimeout: 0,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      if (abort.signal.aborted) throw new CofferError("UPSTREAM_TIMEOUT", `the upstream '${to.host}' did not answer within ${Math.round(timeoutMs / 1000)} s`);
      throw upstreamError(error as Error, to.host);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The body without its content encoding (redaction must see the bytes), limited to MAX_RESPONSE_BYTES. */
function decoded(response: Dispatcher.ResponseData): Readable {
  const raw = response.body;
  const encoding = String(response.headers["content-encoding"] ?? "").trim().toLowerCase();
  const decoder = encoding === "gzip" || encoding === "x-gzip" ? createGunzip() : encoding === "deflate" ? createInflate() : encoding === "br" ? createBrotliDecompress() : null;
  if (decoder === null && encoding !== "" && encoding !== "identity") {
    raw.destroy();
    throw new CofferError("UPSTREAM_ERROR", `the upstream answered in content encoding '${encoding.slice(0, 40)}', which the relay cannot redact`);
  }
  let seen = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > MAX_RESPONSE_BYTES) return done(new CofferError("UPSTREAM_RESPONSE_TOO_LARGE", `the upstream's answer is larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB`));
      done(null, chunk);
    },
  });
  const fail = (error: Error) => limit.destroy(error instanceof CofferError ? error : upstreamError(error, ""));
  raw.on("error", fail);
  if (decoder) {
    decoder.on("error", () => fail(new CofferError("UPSTREAM_ERROR", "the upstream's answer could not be decoded")));
    raw.pipe(decoder).pipe(limit);
  } else raw.pipe(limit);
  // An answer dropped before its end (the caller left, a limit) gives its connection up rather than leave it half read.
  limit.on("close", () => {
    if (!raw.readableEnded) raw.destroy();
  });
  return limit;
}

/** A Content-Length of at most `bytes`, and the body as sent (no content encoding to undo). */
function isPlainUpTo(headers: IncomingHttpHeaders, bytes: number): boolean {
  const length = headers["content-length"];
  const encoding = headers["content-encoding"];
  return length !== undefined && Number(length) <= bytes && (encoding === undefined || encoding.trim().toLowerCase() === "identity");
}

/** A body of declared length (undici holds the upstream to it, so no limit is needed beyond the declared size). */
function readWhole(body: Readable, host: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on("data", (chunk: Buffer) => chunks.push(chunk));
    body.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    body.once("error", (error) => reject(upstreamError(error, host)));
  });
}

/** What the caller may learn of a network failure: its kind, never a message that could quote the request. */
function upstreamError(error: Error, host: string): CofferError {
  if (error instanceof CofferError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? "failed";
  if (code === "UND_ERR_BODY_TIMEOUT") return new CofferError("UPSTREAM_TIMEOUT", "the upstream stopped sending its answer");
  return new CofferError("UPSTREAM_ERROR", `the relay could not complete the exchange with '${host}' (${code})`);
}
