/**
 * A secret's relay policy: where Coffer may send its value on a `use`
 * caller's behalf. The threat is an agent talked into sending a key
 * somewhere else (a prompt injection), so everything not named is refused:
 * hosts are exact names or `*.` subdomains, https unless http is named, the
 * scheme's default port unless ports are named, and the value may appear
 * only in the headers, query parameters or body the policy names.
 */
import type { RelayPolicy } from "@coffer/protocol";
import { BlockList, isIP } from "node:net";
import { CofferError, invalid } from "../core/errors.ts";
import { blockList } from "../identity/token-scope.ts";

const FIELDS = new Set(["hosts", "schemes", "ports", "methods", "headers", "query", "body", "addresses"]);
const MAX_ITEMS = 50;
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);
const WILDCARD = new RegExp(`^\\*\\.(?=.{1,251}$)${LABEL}(?:\\.${LABEL})+$`);
const METHOD = /^[A-Z]{1,20}$/;
/** RFC 9110 token characters. */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** Headers that frame the request itself: Coffer sets them, a value never goes there. */
const FRAMING_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive", "proxy-connection"]);
export const DEFAULT_PORTS: Readonly<Record<string, number>> = { https: 443, http: 80 };

/** A policy as written by a caller: fields omitted take their defaults; anything unclear is refused with a message that names it. */
export function checkPolicy(input: unknown): RelayPolicy {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw invalid("relayPolicy is an object (or null to remove it)");
  const fields = input as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!FIELDS.has(key)) throw invalid(`relayPolicy has no field '${key}'; the fields are ${[...FIELDS].join(", ")}`);
  }
  const hosts = (fields.hosts === undefined ? [] : list(fields.hosts, "hosts")).map((host) => host.toLowerCase());
  if (hosts.length === 0) throw invalid("relayPolicy.hosts names at least one host, e.g. api.openai.com or *.example.com");
  for (const host of hosts) {
    if (!HOST_NAME.test(host) && !WILDCARD.test(host) && isIP(host) === 0) {
      throw invalid(`relayPolicy.hosts: '${host}' is not a host name, a '*.example.com' wildcard or an IP address`);
    }
  }
  const schemes = fields.schemes === undefined ? ["https"] : list(fields.schemes, "schemes").map((scheme) => scheme.toLowerCase());
  if (schemes.length === 0 || schemes.some((scheme) => !(scheme in DEFAULT_PORTS))) throw invalid("relayPolicy.schemes lists 'https' and/or 'http'");
  const ports = fields.ports === undefined ? [] : numbers(fields.ports, "ports");
  const methods = (fields.methods === undefined ? [] : list(fields.methods, "methods")).map((method) => method.toUpperCase());
  for (const method of methods) if (!METHOD.test(method)) throw invalid(`relayPolicy.methods: '${method}' is not an HTTP method`);
  const headers = fields.headers === undefined ? [] : list(fields.headers, "headers");
  for (const header of headers) {
    if (!HEADER_NAME.test(header)) throw invalid(`relayPolicy.headers: '${header}' is not a header name`);
    if (FRAMING_HEADERS.has(header.toLowerCase())) throw invalid(`relayPolicy.headers: a value may not be placed in '${header}'`);
  }
  const query = fields.query === undefined ? [] : list(fields.query, "query");
  for (const name of query) if (name.length === 0 || name.length > 128) throw invalid("relayPolicy.query names are 1 to 128 characters");
  if (fields.body !== undefined && typeof fields.body !== "boolean") throw invalid("relayPolicy.body is true or false");
  const addresses = fields.addresses === undefined ? [] : list(fields.addresses, "addresses");
  blockList(addresses.map((address) => address.replace(/^\[|\]$/g, "")));
  return { hosts: unique(hosts), schemes: unique(schemes), ports: unique(ports), methods: unique(methods), headers: unique(headers), query: unique(query), body: fields.body === true, addresses: unique(addresses) };
}

/** The stored form back into a policy: null when the secret has none. */
export function parsePolicy(stored: string | null): RelayPolicy | null {
  return stored === null ? null : (JSON.parse(stored) as RelayPolicy);
}

/** A stored policy, compiled once per cached secret row: each check is a set lookup. */
export interface CompiledPolicy {
  policy: RelayPolicy;
  hosts: Set<string>;
  suffixes: string[];
  headers: Set<string>;
  query: Set<string>;
  addresses: BlockList | null;
}

export function compilePolicy(policy: RelayPolicy): CompiledPolicy {
  return {
    policy,
    hosts: new Set(policy.hosts.filter((host) => !host.startsWith("*."))),
    suffixes: policy.hosts.filter((host) => host.startsWith("*.")).map((host) => host.slice(1)),
    headers: new Set(policy.headers.map((header) => header.toLowerCase())),
    query: new Set(policy.query),
    addresses: policy.addresses.length === 0 ? null : blockList(policy.addresses),
  };
}

/** Where a value goes: the destination of one hop, and the places in the request that hold it. */
export interface Destination {
  scheme: string;
  /** Lower case; an IPv6 literal without brackets. */
  host: string;
  port: number;
  method: string;
}

export type Placement = { kind: "header"; name: string } | { kind: "query"; name: string } | { kind: "body" };

/** Refuses (DESTINATION_NOT_ALLOWED, naming the rule) a destination the secret's policy does not allow. */
export function checkDestination(secret: string, compiled: CompiledPolicy, to: Destination): void {
  const { policy } = compiled;
  if (!policy.schemes.includes(to.scheme)) throw notAllowed(secret, `scheme '${to.scheme}' is not allowed (allowed: ${policy.schemes.join(", ")})`);
  if (!compiled.hosts.has(to.host) && !compiled.suffixes.some((suffix) => to.host.endsWith(suffix))) {
    throw notAllowed(secret, `host '${to.host}' is not allowed (allowed: ${policy.hosts.join(", ")})`);
  }
  const ports = policy.ports.length > 0 ? policy.ports : [DEFAULT_PORTS[to.scheme]];
  if (!ports.includes(to.port)) throw notAllowed(secret, `port ${to.port} is not allowed (allowed: ${ports.join(", ")})`);
  if (policy.methods.length > 0 && !policy.methods.includes(to.method)) {
    throw notAllowed(secret, `method ${to.method} is not allowed (allowed: ${policy.methods.join(", ")})`);
  }
}

/** Refuses a placeholder in a place the secret's policy does not name. */
export function checkPlacement(secret: string, compiled: CompiledPolicy, placement: Placement): void {
  if (placement.kind === "header" && compiled.headers.has(placement.name.toLowerCase())) return;
  if (placement.kind === "query" && compiled.query.has(placement.name)) return;
  if (placement.kind === "body" && compiled.policy.body) return;
  const where = placement.kind === "header" ? `header '${placement.name}'` : placement.kind === "query" ? `query parameter '${placement.name}'` : "the body";
  throw notAllowed(secret, `its value may not be placed in ${where}`);
}

/** Whether the policy names this address as one its hosts may resolve to (loopback, private and link-local are otherwise refused). */
export function namesAddress(compiled: CompiledPolicy, address: string): boolean {
  const family = isIP(address);
  return compiled.addresses !== null && family !== 0 && compiled.addresses.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Loopback, private, link-local, shared (CGNAT), multicast and reserved ranges: never reached unless a policy names them. IPv4-mapped IPv6 addresses match their IPv4 range. */
const INTERNAL = blockList([
  "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16",
  "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
  "::/96", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "64:ff9b:1::/48",
]);

export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  return family === 0 || INTERNAL.check(address, family === 4 ? "ipv4" : "ipv6");
}

export function notAllowed(secret: string, rule: string): CofferError {
  return new CofferError("DESTINATION_NOT_ALLOWED", `the relay policy of secret '${secret}' refuses this request: ${rule}`);
}

function list(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_ITEMS || !value.every((item) => typeof item === "string")) {
    throw invalid(`relayPolicy.${field} is a list of at most ${MAX_ITEMS} strings`);
  }
  return value as string[];
}

function numbers(value: unknown, field: string): number[] {
  if (!Array.isArray(value) || value.length > MAX_ITEMS || !value.every((item) => Number.isInteger(item) && item >= 1 && item <= 65535)) {
    throw invalid(`relayPolicy.${field} is a list of port numbers from 1 to 65535`);
  }
  return value as number[];
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}
