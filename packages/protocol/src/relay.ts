/**
 * The relay's wire types (/work RELAY-CONTRACT, docs/relay.md): Coffer makes
 * an HTTP call for a caller that holds only `use` on the secrets it names,
 * and the caller never receives a value.
 */

/** Where a secret's value may be sent. Stored with the secret; a secret without one cannot be relayed. */
export interface RelayPolicy {
  /** Exact host names, or `*.example.com` for any subdomain (not example.com itself). */
  hosts: string[];
  /** "https" and/or "http"; default ["https"]. */
  schemes: string[];
  /** Allowed ports; [] = the scheme's default port only. */
  ports: number[];
  /** Allowed methods (upper case); [] = any. */
  methods: string[];
  /** Header names (case-insensitive) the value may be placed in. */
  headers: string[];
  /** Query parameter names the value may be placed in. */
  query: string[];
  /** Whether the value may be placed in the request body. */
  body: boolean;
  /** IPs or CIDR ranges the hosts may resolve to although loopback, private or link-local. */
  addresses: string[];
}

export type RelayBodyEncoding = "utf8" | "base64";

/** `POST /api/v1/workspaces/{ws}/relay` */
export interface RelayRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  bodyEncoding?: RelayBodyEncoding;
  scope?: "shared" | "personal";
  stream?: boolean;
}

/** The answer when `stream` is false: the upstream's answer, redacted. */
export interface RelayResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  bodyEncoding: RelayBodyEncoding;
}

/** A base-URL route: `/relay/{ws}/{name}/…` forwards to `target` with the templates applied. */
export interface RelayRoute {
  name: string;
  target: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  description: string;
  createdAt: string;
  updatedAt: string;
}

/** Route names: what the proxy path and the CLI take. */
export const RELAY_ROUTE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
