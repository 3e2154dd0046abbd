/**
 * The relay's side of the network. A destination's name is resolved once,
 * each address is checked (loopback, private and link-local ones only where
 * a policy names them), and the connection goes to the checked address
 * through `lookup`, so a DNS answer that changes between the check and the
 * connect (rebinding) cannot move it; TLS still verifies the name. Redirects
 * are followed here, each hop checked like the first. Keep-alive agents are
 * kept per checked address and reused.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { Transform, type Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { CofferError } from "../core/errors.ts";
import type { Destination } from "./relay-policy.ts";
import { DEFAULT_PORTS } from "./relay-policy.ts";

export const MAX_REDIRECTS = 5;
export const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
const MAX_AGENTS = 1000;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface OutboundRequest {
  url: URL;
  method: string;
  /** Header name → value, already substituted and checked. */
  headers: Record<string, string>;
  body: Buffer | undefined;
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
  /** The decoded body, at most MAX_RESPONSE_BYTES (past that it fails with UPSTREAM_RESPONSE_TOO_LARGE). */
  body: Readable;
  /** The host that answered (after redirects). */
  host: string;
}

export function destinationOf(url: URL, method: string): Destination {
  const scheme = url.protocol.slice(0, -1);
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return { scheme, host, port: url.port === "" ? (DEFAULT_PORTS[scheme] ?? 0) : Number(url.port), method };
}

export class Outbound {
  #agents = new Map<string, http.Agent>();

  async send(request: OutboundRequest, checks: OutboundChecks): Promise<UpstreamAnswer> {
    let { url, method, body } = request;
    for (let hop = 0; ; hop++) {
      const to = destinationOf(url, method);
      checks.destination(to);
      const address = await this.#resolve(to.host, checks);
      const response = await this.#exchange(url, to, address, method, request.headers, body, checks.timeoutMs);
      const location = response.headers.location;
      if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) {
        return { status: response.statusCode ?? 502, headers: response.headers, body: decoded(response), host: to.host };
      }
      response.resume();
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
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  async #resolve(host: string, checks: OutboundChecks): Promise<string> {
    let addresses: string[];
    if (isIP(host) !== 0) addresses = [host];
    else {
      try {
        addresses = (await dnsLookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
      } catch {
        throw new CofferError("UPSTREAM_ERROR", `the host '${host}' could not be resolved`);
      }
    }
    // Every address the name has must pass, not just the one used: the answer is the resolver's to choose.
    for (const address of addresses) checks.address(host, address);
    const first = addresses[0];
    if (first === undefined) throw new CofferError("UPSTREAM_ERROR", `the host '${host}' has no address`);
    return first;
  }

  #agent(to: Destination, address: string): http.Agent {
    const key = `${to.scheme}\u0000${to.host}\u0000${to.port}\u0000${address}`;
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      if (this.#agents.size >= MAX_AGENTS) {
        const [oldest, old] = this.#agents.entries().next().value!;
        this.#agents.delete(oldest);
        old.destroy();
      }
      const options = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: "lifo" as const };
      agent = to.scheme === "https" ? new https.Agent(options) : new http.Agent(options);
      this.#agents.set(key, agent);
    }
    return agent;
  }

  #exchange(url: URL, to: Destination, address: string, method: string, headers: Record<string, string>, body: Buffer | undefined, timeoutMs: number): Promise<IncomingMessage> {
    const family = isIP(address);
    const lookup: LookupFunction = (_hostname, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
      else callback(null, address, family);
    };
    // Redaction must see the bytes: ask for them plain (an upstream that compresses anyway is decoded).
    const outgoing: Record<string, string> = { ...headers, "accept-encoding": "identity" };
    if (body !== undefined) outgoing["content-length"] = String(body.length);
    return new Promise((resolve, reject) => {
      const transport = to.scheme === "https" ? https : http;
      const req = transport.request(
        {
          protocol: url.protocol,
          hostname: to.host,
          port: to.port,
          path: url.pathname + url.search,
          method,
          headers: outgoing,
          agent: this.#agent(to, address),
          lookup,
          servername: isIP(to.host) === 0 ? to.host : undefined,
        },
        (response) => {
          // Silence on an open answer is the same timeout as silence before it.
          response.socket.setTimeout(timeoutMs);
          resolve(response);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new CofferError("UPSTREAM_TIMEOUT", `the upstream '${to.host}' did not answer within ${Math.round(timeoutMs / 1000)} s`)));
      req.on("error", (error) => reject(upstreamError(error, to.host)));
      req.end(body);
    });
  }
}

/** The body without its content encoding (redaction must see the bytes), limited to MAX_RESPONSE_BYTES. */
function decoded(response: IncomingMessage): Readable {
  const encoding = String(response.headers["content-encoding"] ?? "").trim().toLowerCase();
  const decoder = encoding === "gzip" || encoding === "x-gzip" ? createGunzip() : encoding === "deflate" ? createInflate() : encoding === "br" ? createBrotliDecompress() : null;
  if (decoder === null && encoding !== "" && encoding !== "identity") {
    response.destroy();
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
  response.on("error", fail);
  // The socket outlives this answer (keep-alive): its listener goes when the answer does, or each reuse would add one more.
  const socket = response.socket;
  const silent = () => fail(new CofferError("UPSTREAM_TIMEOUT", "the upstream stopped sending its answer"));
  socket?.on("timeout", silent);
  if (decoder) {
    decoder.on("error", () => fail(new CofferError("UPSTREAM_ERROR", "the upstream's answer could not be decoded")));
    response.pipe(decoder).pipe(limit);
  } else response.pipe(limit);
  limit.on("close", () => {
    socket?.off("timeout", silent);
    if (!response.complete) response.destroy();
  });
  return limit;
}

/** What the caller may learn of a network failure: its kind, never a message that could quote the request. */
function upstreamError(error: Error, host: string): CofferError {
  if (error instanceof CofferError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? "failed";
  return new CofferError("UPSTREAM_ERROR", `the relay could not complete the exchange with '${host}' (${code})`);
}
