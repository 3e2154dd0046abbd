/**
 * What a token may do, beyond what its identity may: one workspace, secret
 * name patterns (`OPENAI_*`), a highest level (read-only, read/write, …),
 * source address ranges. A child token's scope must lie inside its
 * parent's: `narrows()` is the one rule every minting path goes through.
 */
import { BlockList, isIP } from "node:net";
import { invalid } from "../core/errors.ts";
import { LEVELS, type Level } from "./access.ts";
import { levelOf, type Acl } from "./acl-policy.ts";

export interface TokenScope {
  /** The only workspace the token reaches; null: every workspace of its identity. */
  workspaceId: string | null;
  /** Glob patterns (`*` any run of characters, `?` one) a secret name must match; null: any name. */
  secrets: string[] | null;
  /** The highest level the token acts at, whatever its identity may do. */
  maxLevel: Level;
  /** CIDR ranges requests must come from; null: anywhere. */
  cidrs: string[] | null;
  /** The token's Vault ACL policies, compiled when the token is loaded; null: none. */
  acl?: Acl | null | undefined;
}

export const FULL_SCOPE: TokenScope = { workspaceId: null, secrets: null, maxLevel: "manage", cidrs: null, acl: null };

const MAX_PATTERNS = 50;
const PATTERN = /^[A-Za-z0-9_.\-/*?]{1,256}$/;

export function isFullScope(scope: TokenScope): boolean {
  return scope.workspaceId === null && scope.secrets === null && scope.maxLevel === "manage" && scope.cidrs === null && !scope.acl;
}

export function checkScope(scope: TokenScope): TokenScope {
  if (scope.secrets !== null) {
    if (scope.secrets.length === 0 || scope.secrets.length > MAX_PATTERNS) throw invalid(`secrets takes 1 to ${MAX_PATTERNS} name patterns`);
    for (const pattern of scope.secrets) {
      if (!PATTERN.test(pattern)) throw invalid("secret patterns are names with '*' and '?' wildcards");
    }
  }
  if (scope.cidrs !== null) {
    if (scope.cidrs.length === 0) throw invalid("cidrs takes at least one range");
    for (const cidr of scope.cidrs) parseCidr(cidr);
  }
  return scope;
}

/** Whether `child` allows nothing that `parent` does not. */
export function narrows(child: TokenScope, parent: TokenScope): boolean {
  if (parent.workspaceId !== null && child.workspaceId !== parent.workspaceId) return false;
  if (LEVELS[child.maxLevel] > LEVELS[parent.maxLevel]) return false;
  // A child's policies are checked by name against its parent's (token.service.ts); here only that it keeps them.
  if (parent.acl && child.acl !== parent.acl) return false;
  if (parent.secrets !== null) {
    if (child.secrets === null) return false;
    // Sound and simple: each child pattern must be one of the parent's, or a
    // literal name (no wildcard) that a parent pattern matches.
    for (const pattern of child.secrets) {
      if (parent.secrets.includes(pattern)) continue;
      if (/[*?]/.test(pattern) || !parent.secrets.some((p) => globToRegExp(p).test(pattern))) return false;
    }
  }
  if (parent.cidrs !== null) {
    if (child.cidrs === null) return false;
    // Each child range must lie whole inside one parent range.
    for (const cidr of child.cidrs) {
      const { address, prefix, family } = parseCidr(cidr);
      if (!parent.cidrs.some((p) => containsRange(p, address, prefix, family))) return false;
    }
  }
  return true;
}

/** The compiled form kept with a cached principal: per-request checks are a regex test and a BlockList lookup. */
export interface CompiledScope {
  scope: TokenScope;
  allowsName(name: string): boolean;
  /** The highest level the token acts at on this name: none outside its patterns, else its maximum, lowered by its policies. */
  levelCap(name: string): Level;
  allowsAddress(ip: string): boolean;
  /** The same scope without its policies: for the Vault adapter, which checks each request's capability on its path exactly. */
  withoutAcl: CompiledScope;
}

export function compileScope(scope: TokenScope): CompiledScope {
  const patterns = scope.secrets?.map(globToRegExp) ?? null;
  const addresses = scope.cidrs ? blockList(scope.cidrs) : null;
  const allowsName = patterns ? (name: string) => patterns.some((p) => p.test(name)) : () => true;
  const { maxLevel } = scope;
  const acl = scope.acl ?? null;
  const compiled: CompiledScope = {
    scope,
    allowsName,
    levelCap: (name) => {
      if (!allowsName(name)) return "none";
      if (acl === null) return maxLevel;
      const level = levelOf(acl, name);
      return LEVELS[level] < LEVELS[maxLevel] ? level : maxLevel;
    },
    allowsAddress: addresses
      ? (ip) => {
          const plain = ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
          const family = isIP(plain);
          return family !== 0 && addresses.check(plain, family === 4 ? "ipv4" : "ipv6");
        }
      : () => true,
    get withoutAcl() {
      return acl === null ? compiled : (without ??= compileScope({ ...scope, acl: null }));
    },
  };
  let without: CompiledScope | undefined;
  return compiled;
}

export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

function parseCidr(cidr: string): { address: string; prefix: number; family: 4 | 6 } {
  const [address = "", bits] = cidr.split("/");
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw invalid(`'${cidr}' is not an IP address or CIDR range`);
  }
  return { address, prefix, family: family as 4 | 6 };
}

export function blockList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const { address, prefix, family } = parseCidr(cidr);
    list.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
  }
  return list;
}

function containsRange(outer: string, address: string, prefix: number, family: 4 | 6): boolean {
  const parsed = parseCidr(outer);
  if (parsed.family !== family || parsed.prefix > prefix) return false;
  const list = new BlockList();
  list.addSubnet(parsed.address, parsed.prefix, family === 4 ? "ipv4" : "ipv6");
  return list.check(address, family === 4 ? "ipv4" : "ipv6");
}
