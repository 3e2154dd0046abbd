/**
 * Vault ACL policies over a workspace's KV version 2 engine: parsed from
 * HCL (hcl.ts) or JSON, checked, compiled, and evaluated the way Vault
 * evaluates them.
 *
 * Threat: a policy is how a Vault user narrows a token; a rule Coffer
 * silently ignored or approximated upwards would hand out more than the
 * user wrote. So a rule Coffer cannot enforce exactly (a path outside the
 * KV engine, another mount, parameter constraints, sudo, wrapping TTLs) is
 * refused with the rule and the reason, and the native API's level for a
 * name is the highest level whose every operation the policies grant:
 * possibly less than the policies allow over /v1, never more.
 */
import { invalid } from "../core/errors.ts";
import type { Level } from "./access.ts";
import { parseHcl, type HclValue } from "./hcl.ts";

export const CAPABILITIES = ["create", "read", "update", "patch", "delete", "list", "deny"] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** The KV v2 paths below a mount a policy may name; `config` is the mount's own settings. */
const KV_KINDS = ["data", "metadata", "delete", "undelete", "destroy", "subkeys", "config"];
const SEGMENT = /^(?:[A-Za-z0-9_.-]+|\+)$/;
/** Vault's policy names: what its API accepts, lower-cased. */
const POLICY_NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/;

export interface PolicyRule {
  /** The path with its mount written `secret`, whichever name the policy used. */
  path: string;
  capabilities: Capability[];
}

/** The policies of a token, merged: what Vault's ACL is made of. */
export interface Acl {
  /** Rules by priority, highest first (Vault's order: exact paths, then longer and less wild ones). */
  rules: readonly { path: string; test: RegExp; capabilities: ReadonlySet<Capability> }[];
}

export function checkPolicyName(name: string): string {
  if (!POLICY_NAME.test(name)) throw invalid("policy names are 1 to 128 lower-case letters, digits, '_', '.' or '-'");
  if (name === "root") throw invalid("the root policy is built in and cannot be written; Coffer's administrators hold it");
  return name;
}

/**
 * A policy's rules, HCL or JSON, each checked. `mounts` are the names the
 * workspace's engine answers to (`secret` and the workspace's own name);
 * null for a policy checked when it was written (the workspace may have
 * been renamed since).
 */
export function parsePolicy(text: string, mounts: readonly string[] | null): PolicyRule[] {
  const paths = pathsOf(text);
  const rules: PolicyRule[] = [];
  for (const [path, body] of paths) {
    const refuse = (why: string): never => {
      throw invalid(`policy rule path "${path}": ${why}`);
    };
    if (body === null || typeof body !== "object" || Array.isArray(body)) refuse("a rule is a block with capabilities");
    const fields = body as Record<string, HclValue>;
    for (const key of Object.keys(fields)) {
      if (key === "capabilities") continue;
      if (key === "policy") refuse(`the old 'policy = ...' form is not supported; write capabilities = [...]`);
      refuse(`'${key}' is not supported: Coffer cannot enforce it, and ignoring it would grant more than the rule says`);
    }
    const capabilities = fields.capabilities;
    if (!Array.isArray(capabilities) || capabilities.some((c) => typeof c !== "string")) refuse("capabilities is a list of strings");
    for (const capability of capabilities as string[]) {
      if (!(CAPABILITIES as readonly string[]).includes(capability)) {
        refuse(`capability '${capability}' is not supported on KV paths (Coffer supports ${CAPABILITIES.join(", ")})`);
      }
    }
    rules.push({ path: checkPath(path, mounts, refuse), capabilities: [...new Set(capabilities as Capability[])] });
  }
  if (rules.length === 0) throw invalid("a policy needs at least one path rule");
  return rules;
}

/** The `path` rules of a policy text, in order: JSON (`{"path": {...}}`) or HCL. */
function pathsOf(text: string): [string, HclValue | null][] {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw invalid("the policy starts like JSON but is not valid JSON");
    }
    const paths = (json as { path?: unknown }).path;
    const keys = Object.keys(json as object);
    if (keys.some((key) => key !== "path")) throw invalid(`policy field '${keys.find((key) => key !== "path")}' is not supported; a policy is a set of path rules`);
    if (paths === null || typeof paths !== "object" || Array.isArray(paths)) throw invalid("a JSON policy is {\"path\": {\"<path>\": {\"capabilities\": [...]}}}");
    return Object.entries(paths as Record<string, HclValue>);
  }
  const body = parseHcl(text);
  if (body.attributes.length > 0) throw invalid(`policy field '${body.attributes[0]![0]}' is not supported; a policy is a set of path rules`);
  return body.blocks.map((block) => {
    if (block.type !== "path") throw invalid(`policy block '${block.type}' is not supported; a policy is a set of path rules`);
    if (block.labels.length !== 1) throw invalid("a path rule is written path \"<path>\" { capabilities = [...] }");
    if (block.body.blocks.length > 0) throw invalid(`policy rule path "${block.labels[0]}": '${block.body.blocks[0]!.type}' is not supported: Coffer cannot enforce it, and ignoring it would grant more than the rule says`);
    return [block.labels[0]!, Object.fromEntries(block.body.attributes)];
  });
}

/** `<mount>/<kind>/<name segments, + or a trailing *>`, the mount one of this workspace's names, written back as `secret/…`. */
function checkPath(path: string, mounts: readonly string[] | null, refuse: (why: string) => never): string {
  const star = path.endsWith("*");
  const body = star ? path.slice(0, -1) : path;
  if (body.includes("*")) refuse("'*' is allowed only at the end of a path");
  const segments = body.split("/");
  const mount = segments[0]!;
  if (star && segments.length === 1) refuse(`a rule names one mount: write ${mount}/...`);
  if (mounts !== null && !mounts.includes(mount)) refuse(`Coffer policies cover this workspace's KV engine only: paths start with ${mounts.map((m) => `${m}/`).join(" or ")}`);
  const kind = segments[1];
  const last = segments.length - 1;
  for (const [i, segment] of segments.entries()) {
    // A trailing '/' (a folder) or the part a '*' completes may be empty or partial.
    if (i === 0 || (segment === "" && i === last)) continue;
    if (i === last && star && (segment === "" || /^[A-Za-z0-9_.-]*$/.test(segment))) continue;
    if (!SEGMENT.test(segment)) refuse(`'${segment}' is not a name segment (letters, digits, _ . - or a '+' for any one segment)`);
  }
  if (kind !== undefined && kind !== "+" && !(star && last === 1) && !KV_KINDS.includes(kind)) {
    refuse(`'${kind}' is not a KV version 2 path: use ${KV_KINDS.map((k) => `${mount}/${k}/`).join(", ")}`);
  }
  return ["secret", ...segments.slice(1)].join("/") + (star ? "*" : "");
}

/**
 * Several policies as one ACL. Rules for the same path add up their
 * capabilities; a deny there wins over everything. A request path takes
 * the rule of highest priority that matches it, as in Vault.
 */
export function compileAcl(policies: readonly PolicyRule[][]): Acl {
  const merged = new Map<string, Set<Capability>>();
  for (const rule of policies.flat()) {
    const capabilities = merged.get(rule.path) ?? new Set();
    for (const capability of rule.capabilities) capabilities.add(capability);
    merged.set(rule.path, capabilities.has("deny") ? new Set(["deny"]) : capabilities);
  }
  const rules = [...merged].map(([path, capabilities]) => ({ path, test: pathRegExp(path), capabilities }));
  rules.sort((a, b) => comparePriority(b.path, a.path));
  return { rules };
}

/** What the ACL lets a request on `path` (`secret/<kind>/<name>`) do. */
export function capabilitiesOn(acl: Acl, path: string): ReadonlySet<Capability> {
  for (const rule of acl.rules) if (rule.test.test(path)) return rule.capabilities;
  return NONE;
}

export function allows(acl: Acl, path: string, capability: Capability): boolean {
  const capabilities = capabilitiesOn(acl, path);
  return !capabilities.has("deny") && capabilities.has(capability);
}

const NONE: ReadonlySet<Capability> = new Set();

/**
 * The native API's level on a secret name: the highest level whose every
 * operation the ACL grants on that name's KV paths.
 *   see    read metadata/
 *   read   + read data/
 *   write  + create, update, patch, delete data/; update delete/ and undelete/
 *   manage + create, update, delete metadata/; update destroy/
 * (`use` lies between see and read; it needs read on data/, so it comes with read.)
 */
export function levelOf(acl: Acl, name: string): Level {
  const can = (kind: string, ...capabilities: Capability[]) => capabilities.every((c) => allows(acl, `secret/${kind}/${name}`, c));
  if (!can("metadata", "read")) return "none";
  if (!can("data", "read")) return "see";
  if (!can("data", "create", "update", "patch", "delete") || !can("delete", "update") || !can("undelete", "update")) return "read";
  if (!can("metadata", "create", "update", "delete") || !can("destroy", "update")) return "write";
  return "manage";
}

function pathRegExp(path: string): RegExp {
  const star = path.endsWith("*");
  const body = (star ? path.slice(0, -1) : path)
    .split("/")
    .map((segment) => (segment === "+" ? "[^/]+" : segment.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${body}${star ? ".*" : ""}$`);
}

/** Vault's priority between two matching paths, positive when `a` wins (its docs, "Priority matching"). */
function comparePriority(a: string, b: string): number {
  const firstWild = (p: string) => {
    const plus = p.split("/").findIndex((s) => s === "+");
    const plusAt = plus < 0 ? Infinity : p.split("/").slice(0, plus).join("/").length + 1;
    const starAt = p.endsWith("*") ? p.length - 1 : Infinity;
    return Math.min(plusAt, starAt);
  };
  const wa = firstWild(a);
  const wb = firstWild(b);
  if (wa !== wb) return wa > wb ? 1 : -1;
  const sa = a.endsWith("*");
  const sb = b.endsWith("*");
  if (sa !== sb) return sa ? -1 : 1;
  const pa = a.split("/").filter((s) => s === "+").length;
  const pb = b.split("/").filter((s) => s === "+").length;
  if (pa !== pb) return pa < pb ? 1 : -1;
  if (a.length !== b.length) return a.length > b.length ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}
