/**
 * `coffer server`: opens the core, builds the app, listens, and shuts down
 * cleanly on SIGINT/SIGTERM.
 */
import { openCoffer, type AuditSettings } from "./coffer.ts";
import { reduceMemoryWhenIdle } from "./core/idle-memory.ts";
import { buildApp } from "./http/app.ts";
import { loggerOptions, type LogFormat } from "./http/log-format.ts";
import type { RateLimitSettings } from "./limits/rate-limits.ts";

export interface ServerOptions {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string | undefined;
  rootKey?: string | undefined;
  previousRootKey?: string | undefined;
  seal?: "shamir" | undefined;
  redisUrl?: string | undefined;
  redisPrefix?: string | undefined;
  rateLimits?: RateLimitSettings | undefined;
  logLevel: string;
  /** Log lines as text or JSON (default json); `coffer server` picks text on a terminal. */
  logFormat?: LogFormat | undefined;
  audit: AuditSettings;
  /** Days a version superseded by a rotation stays valid for HMAC verify and kept; default 7. */
  rotationGraceDays?: number | undefined;
  /** The longest a relayed call's upstream may stay silent, in seconds; default 30. */
  relayTimeoutSeconds?: number | undefined;
  /** Relay routes kept in memory per node; default 10000, 0 for none. */
  relayRouteCache?: number | undefined;
  /** How long a use that needs a person's approval waits; default 60, at most 600. */
  approvalTimeoutSeconds?: number | undefined;
  /** How many secret summaries lists keep in memory; default 20,000, 0 keeps none. */
  listCacheSecrets?: number | undefined;
  /** How many secrets reads keep decrypted in memory; default 10,000, 0 keeps none. */
  secretCache?: number | undefined;
  /** How many workspaces' grants each node keeps in memory; default 1,000, 0 keeps none. */
  aclCache?: number | undefined;
  /** How many tokens' principals each node keeps in memory; default 10,000, 0 keeps none. */
  tokenCache?: number | undefined;
  /** How many workspaces each node keeps in memory; default 10,000, 0 keeps none. */
  workspaceCache?: number | undefined;
  /** How many principals' roles in workspaces each node keeps in memory; default 100,000, 0 keeps none. */
  roleCache?: number | undefined;
  /**
   * On shutdown, how long the node keeps serving while its health check
   * already fails, so a balancer stops sending it requests first (default 0).
   */
  drainSeconds?: number | undefined;
  /** Then how long requests in flight may take to finish before their connections are cut (default 30). */
  shutdownGraceSeconds?: number | undefined;
  /** How often this node looks for due rotations (seconds; default 60). */
  rotationCheckSeconds?: number | undefined;
  /** Where start-up messages go; the bootstrap token goes here and nowhere else. */
  print: (line: string) => void;
}

export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 30;

export async function runServer(options: ServerOptions): Promise<{ url: string; close: () => Promise<void> }> {
  const coffer = await openCoffer({
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    rootKey: options.rootKey,
    audit: options.audit,
    rotationGraceDays: options.rotationGraceDays,
    previousRootKey: options.previousRootKey,
    seal: options.seal,
    redisUrl: options.redisUrl,
    redisPrefix: options.redisPrefix,
    rateLimits: options.rateLimits,
    relayTimeoutSeconds: options.relayTimeoutSeconds,
    relayRouteCache: options.relayRouteCache,
    approvalTimeoutSeconds: options.approvalTimeoutSeconds,
    listCacheSecrets: options.listCacheSecrets,
    secretCache: options.secretCache,
    aclCache: options.aclCache,
    tokenCache: options.tokenCache,
    workspaceCache: options.workspaceCache,
    roleCache: options.roleCache,
    ...(options.rotationCheckSeconds ? { rotationJobEveryMs: options.rotationCheckSeconds * 1000 } : {}),
    log: (message) => options.print(`coffer: ${message}`),
  });
  const app = await buildApp(coffer, { logger: loggerOptions(options.logLevel, options.logFormat ?? "json") });
  let url: string;
  try {
    url = await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await coffer.close();
    throw error;
  }
  const print = options.print;
  print(`Coffer ${url}`);
  print(`  store     ${coffer.store.dialect.kind} (${coffer.store.location})`);
  print(`  root key  ${coffer.rootKeySource}`);
  print(`  audit     ${auditLine(options.audit)}`);
  const seal = coffer.seal.status();
  if (!seal.initialized) {
    print("");
    print("  Sealed and not initialised. Create the root key as shares (printed once, to the operator):");
    print("      coffer operator init --addr " + url + " --shares 5 --threshold 3");
    print("");
  } else if (seal.sealed) {
    print(`  sealed    unseal with ${seal.threshold} of the ${seal.shares} shares: coffer operator unseal --addr ${url}`);
  }
  const { readsPerSecond, writesPerSecond } = coffer.limits.defaults;
  print(`  limits    ${readsPerSecond} reads/s, ${writesPerSecond} writes/s per token by default; counted in ${coffer.limits.description}`);
  if (coffer.bootstrapToken) {
    print("");
    print("  The store was initialised. Admin bootstrap token (shown ONCE, never again):");
    print("");
    print(`      ${coffer.bootstrapToken}`);
    print("");
    print("  Keep it somewhere safe, e.g.  export COFFER_TOKEN=<token>");
    print("  Anyone with it can read every secret in the 'default' workspace.");
    print("");
  }
  print(`Listening on ${url} (Ctrl-C to stop)`);
  const stopReducingMemory = reduceMemoryWhenIdle();
  let closing: Promise<void> | undefined;
  // Draining: fail health checks, keep serving for drainSeconds while the balancer notices,
  // then stop accepting and let requests in flight finish, within the grace.
  const close = () =>
    (closing ??= (async () => {
      stopReducingMemory();
      coffer.drain();
      const drainMs = (options.drainSeconds ?? 0) * 1000;
      if (drainMs > 0) {
        print(`coffer: draining: health checks fail; still serving for ${options.drainSeconds} s`);
        await new Promise((resolve) => setTimeout(resolve, drainMs));
      }
      const graceMs = (options.shutdownGraceSeconds ?? DEFAULT_SHUTDOWN_GRACE_SECONDS) * 1000;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => (timer = setTimeout(resolve, graceMs, "late")));
      const closed = app.close();
      if ((await Promise.race([closed, late])) === "late") {
        print(`coffer: requests still running after ${graceMs / 1000} s: closing their connections`);
        app.server.closeAllConnections();
        await closed;
      }
      clearTimeout(timer);
      await coffer.close();
    })());
  return { url, close };
}

function auditLine({ mode, retentionDays, sync }: AuditSettings): string {
  const kept = `${retentionDays > 0 ? `kept ${retentionDays} days` : "kept forever"}; ${sync === "always" ? "every event" : "changes"} synced before the answer`;
  if (mode === "off") return "OFF — nothing is recorded (--audit off); use only to measure the cost of auditing";
  if (mode === "fail-open") return `fail-open — WARNING: requests go ahead even when their event cannot be written (${kept})`;
  return `on, fail closed (${kept})`;
}
