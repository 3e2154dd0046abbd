import { APPROVAL_WAIT } from "@coffer/protocol";
import { flushCompileCache } from "node:module";
import { parseArgs } from "node:util";
import { CliError, EXIT } from "../cli-error.ts";

const HELP = `Usage: coffer server [options]

Runs the Coffer server: the REST API (and, later, the web UI) on one port.
The first start initialises the store, creates the root key file (mode 0600)
and prints an admin bootstrap token once.

Options:
  --listen HOST:PORT    where to listen (env COFFER_LISTEN; default 127.0.0.1:8200; port 0 picks a free one)
  --data-dir DIR        data directory: SQLite store and root key file (env COFFER_DATA_DIR; default ./.coffer)
  --database-url URL    use PostgreSQL instead of the embedded SQLite store (env COFFER_DATABASE_URL)
  --redis-url URL       share rate limits and login throttling between nodes through Redis
                        (env COFFER_REDIS_URL; prefer the env when the URL holds a password)
  --rate-limits LIMITS  per-token limits of workspaces that set none, e.g. reads=20,writes=5
                        (env COFFER_RATE_LIMITS; default reads=20,writes=5; a workspace's ceiling is 10×)
  --log-level LEVEL     fatal, error, warn, info, debug (env COFFER_LOG_LEVEL; default info)
  --log-format FORMAT   text (one readable line per record) or json (one JSON record per line, for log
                        collectors) (env COFFER_LOG_FORMAT; default: text when stdout is a terminal, else json)
  --audit MODE          on: a request fails unless its audit event is durable, as --audit-sync says (default); fail-open: it goes
                        ahead with a loud log line; off: record nothing (only to measure audit's cost)
                        (env COFFER_AUDIT)
  --audit-sync WHEN     changes (default): a request that changes anything is answered once its audit
                        event is synced to disk; a read (GET) once its event is written, which a crash
                        of Coffer cannot lose, and synced soon after (SQLite: 0.1 s; PostgreSQL: its
                        WAL writer, 0.6 s at most by default): only a power cut before then can.
                        always: every request waits for the sync. (env COFFER_AUDIT_SYNC)
  --audit-retention-days N
                        remove audit events, and the alerts and webhook deliveries made from them,
                        older than N days; 0 keeps them forever (env COFFER_AUDIT_RETENTION_DAYS;
                        default 365)
  --rotation-grace-days N
                        days a version replaced by a rotation still verifies HMAC signatures and is
                        kept from pruning (env COFFER_ROTATION_GRACE_DAYS; default 7; 0 to 365)
  --relay-timeout SECONDS
                        the longest an upstream of the relay may stay silent (docs/relay.md), and the
                        default; a relayed request may ask for less (env COFFER_RELAY_TIMEOUT; default 30; 1 to 3600)
  --relay-route-cache N
                        relay routes each node keeps in memory, dropped when one changes on any node
                        (env COFFER_RELAY_ROUTE_CACHE; default 10000; 0 looks every call's route up in the store)
  --approval-timeout SECONDS
                        how long a relayed call or signature that needs a person's approval waits for
                        one before it is denied (docs/agents.md) (env COFFER_APPROVAL_TIMEOUT; default 60; 1 to 600)
  --list-cache N        how many secret summaries lists keep in memory (docs/operations.md)
                        (env COFFER_LIST_CACHE; default 20000; 0 keeps none)
  --secret-cache N      how many secrets reads keep decrypted in memory, dropped on any write to them; a
                        secret counts once per started KiB of its value
                        (env COFFER_SECRET_CACHE; default 10000; 0 decrypts every read)
  --acl-cache N         how many workspaces' grants and group memberships each node keeps in memory; a
                        workspace counts once per started 100 granted secrets and group members
                        (env COFFER_ACL_CACHE; default 1000; 0 loads them for every request)
  --token-cache N       how many tokens' verified principals each node keeps in memory
                        (env COFFER_TOKEN_CACHE; default 10000; 0 looks every request's token up)
  --workspace-cache N   how many workspaces each node keeps in memory by id and name
                        (env COFFER_WORKSPACE_CACHE; default 10000; 0 looks every request's workspace up)
  --role-cache N        how many users' and service accounts' roles in workspaces each node keeps in memory
                        (env COFFER_ROLE_CACHE; default 100000; 0 looks every request's role up)
  --seal shamir         the root key is split into Shamir shares (env COFFER_SEAL): the server starts
                        sealed; 'coffer operator init' creates the shares once, 'coffer operator unseal'
                        takes them after every start. A store keeps the kind of root key it began with.
  --drain-seconds N     on SIGTERM, keep serving N seconds while /api/v1/sys/health already answers
                        503 (draining), so a load balancer stops sending requests first
                        (env COFFER_DRAIN_SECONDS; default 0; behind a balancer: its check interval × fall, plus 1)
  --shutdown-grace-seconds N
                        then wait at most N seconds for requests in flight before cutting their
                        connections and exiting (env COFFER_SHUTDOWN_GRACE_SECONDS; default 30)
  -h, --help            show this help

Environment only:
  COFFER_ROOT_KEY       base64 of a 32-byte root key, instead of the key file; give every node of a
                        PostgreSQL cluster the same one. Never pass keys as arguments: argv is visible to ps.
  COFFER_REDIS_PREFIX   prefix of every Redis key (default coffer:), to share one Redis between installations
  COFFER_ROTATION_CHECK_SECONDS  how often each node looks for secrets due for rotation (default 60);
                        with several nodes each due item is still handled once
  COFFER_ROOT_KEY_PREVIOUS  to rotate COFFER_ROOT_KEY: the old key here, the new one in COFFER_ROOT_KEY;
                        the first start re-wraps the keyring under the new key.

Example:
  coffer server --data-dir /var/lib/coffer --seal shamir`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parse(argv);
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return;
  }
  runWithHeapFlags();
  const env = process.env;
  const { host, port } = parseListen(values.listen ?? env.COFFER_LISTEN ?? "127.0.0.1:8200");
  const { runServer, parseRateLimits, LOG_FORMATS } = await import("@coffer/server");
  const logFormat = values["log-format"] ?? (env.COFFER_LOG_FORMAT || (process.stdout.isTTY ? "text" : "json"));
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) throw new CliError(`--log-format takes text or json (got '${logFormat}')`, EXIT.usage);
  const limits = values["rate-limits"] ?? env.COFFER_RATE_LIMITS;
  let rateLimits: ReturnType<typeof parseRateLimits> | undefined;
  try {
    rateLimits = limits ? parseRateLimits(limits) : undefined;
  } catch (error) {
    throw new CliError(`--rate-limits: ${(error as Error).message}`, EXIT.usage);
  }
  const server = await runServer({
    host,
    port,
    dataDir: values["data-dir"] ?? env.COFFER_DATA_DIR ?? ".coffer",
    databaseUrl: values["database-url"] ?? env.COFFER_DATABASE_URL,
    rootKey: env.COFFER_ROOT_KEY,
    previousRootKey: env.COFFER_ROOT_KEY_PREVIOUS,
    seal: parseSeal(values.seal ?? env.COFFER_SEAL),
    redisUrl: values["redis-url"] ?? (env.COFFER_REDIS_URL || undefined),
    redisPrefix: env.COFFER_REDIS_PREFIX || undefined,
    rateLimits,
    logLevel: values["log-level"] ?? env.COFFER_LOG_LEVEL ?? "info",
    logFormat: logFormat as (typeof LOG_FORMATS)[number],
    audit: {
      mode: auditMode(values.audit ?? env.COFFER_AUDIT ?? "on"),
      retentionDays: retentionDays(values["audit-retention-days"] ?? env.COFFER_AUDIT_RETENTION_DAYS ?? "365"),
      sync: auditSync(values["audit-sync"] ?? env.COFFER_AUDIT_SYNC ?? "changes"),
    },
    rotationGraceDays: graceDays(values["rotation-grace-days"] ?? env.COFFER_ROTATION_GRACE_DAYS),
    relayTimeoutSeconds: relayTimeout(values["relay-timeout"] ?? env.COFFER_RELAY_TIMEOUT),
    relayRouteCache: cacheSize("--relay-route-cache", "routes", values["relay-route-cache"] ?? env.COFFER_RELAY_ROUTE_CACHE),
    approvalTimeoutSeconds: approvalTimeout(values["approval-timeout"] ?? env.COFFER_APPROVAL_TIMEOUT),
    listCacheSecrets: cacheSize("--list-cache", "secrets", values["list-cache"] ?? env.COFFER_LIST_CACHE),
    secretCache: cacheSize("--secret-cache", "secrets", values["secret-cache"] ?? env.COFFER_SECRET_CACHE),
    aclCache: cacheSize("--acl-cache", "workspaces", values["acl-cache"] ?? env.COFFER_ACL_CACHE),
    tokenCache: cacheSize("--token-cache", "tokens", values["token-cache"] ?? env.COFFER_TOKEN_CACHE),
    workspaceCache: cacheSize("--workspace-cache", "workspaces", values["workspace-cache"] ?? env.COFFER_WORKSPACE_CACHE),
    roleCache: cacheSize("--role-cache", "roles", values["role-cache"] ?? env.COFFER_ROLE_CACHE),
    drainSeconds: seconds("--drain-seconds", values["drain-seconds"] ?? env.COFFER_DRAIN_SECONDS),
    rotationCheckSeconds: seconds("COFFER_ROTATION_CHECK_SECONDS", env.COFFER_ROTATION_CHECK_SECONDS) || undefined,
    shutdownGraceSeconds: seconds("--shutdown-grace-seconds", values["shutdown-grace-seconds"] ?? env.COFFER_SHUTDOWN_GRACE_SECONDS),
    print: (line) => process.stdout.write(line + "\n"),
  });
  // Node writes its compile cache (bin/coffer.js) only at a clean exit; a server that ends
  // otherwise (SIGKILL, a crash) would strip its TypeScript again at every start, which
  // loads the stripper and keeps it: 11 to 15 MiB more RSS for the server's whole life.
  // Writing takes ~80 ms after a cold start, ~1 ms when nothing is new.
  flushCompileCache();
  const stop = (signal: string) => {
    process.stdout.write(`\n${signal}: stopping\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

/**
 * V8's heap as Node sizes it by default suits a batch job on a big machine:
 * the young generation grows to 2 × 64 MiB under load, and the old
 * generation may grow to four times what is live before it is collected,
 * so a server holding ~40 MiB showed 250 MiB idle and 480 MiB after a bench.
 * The server's caches are bounded, so it runs with a young generation of
 * 2 × 8 MiB and an old generation capped at 512 MiB, which also makes V8
 * grow it in smaller steps (docs/operations.md, "Memory"). Reads cost the
 * same; a flag the operator set in NODE_OPTIONS is left as it is.
 */
const HEAP_FLAGS = [
  ["--max-semi-space-size", "8"],
  ["--max-old-space-size", "512"],
  // Most of a server's functions run once (start-up, route set-up) or rarely (operator
  // routes): V8 drops the bytecode of a function unused for one memory-reducing collection
  // (default: several) and its baseline code too, recompiling it if it runs again. Hot
  // functions are never flushed. Live heap idle -2.3 MiB; reads cost the same (decisions.md).
  ["--bytecode-old-age", "1"],
  ["--flush-baseline-code", undefined],
] as const;

/**
 * glibc gives every thread that allocates (libuv's pool, V8's helpers, the
 * WAL checkpointer) an arena of its own, up to 8 per core, each keeping what
 * it once held: ~10 MiB of an idle server. The server allocates little off
 * its main thread, so two arenas do (`MALLOC_ARENA_MAX`; one set in the
 * environment wins). glibc reads it only at start, like V8 its flags.
 */
const MALLOC_ARENAS = "2";

/**
 * V8 takes heap sizes only when the process starts, so `coffer server`
 * starts once more with them: process.execve replaces this process (same
 * pid, same stdio, nothing left running). Where there is no execve
 * (Windows), the server runs with Node's defaults.
 */
function runWithHeapFlags(): void {
  // V8 reads --max_old_space_size as --max-old-space-size.
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].map((arg) => arg.replaceAll("_", "-"));
  const negated = (flag: string) => `--no-${flag.slice(2)}`;
  const missing = HEAP_FLAGS.filter(([flag]) => !given.some((arg) => arg === flag || arg.startsWith(`${flag}=`) || arg === negated(flag)));
  if (missing.length === 0 || typeof process.execve !== "function") return;
  const flags = missing.map(([flag, value]) => (value === undefined ? flag : `${flag}=${value}`));
  const env = { MALLOC_ARENA_MAX: MALLOC_ARENAS, ...process.env };
  process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], env);
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        listen: { type: "string" },
        "data-dir": { type: "string" },
        "database-url": { type: "string" },
        "redis-url": { type: "string" },
        "rate-limits": { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        audit: { type: "string" },
        "audit-retention-days": { type: "string" },
        "audit-sync": { type: "string" },
        "rotation-grace-days": { type: "string" },
        "relay-timeout": { type: "string" },
        "relay-route-cache": { type: "string" },
        "approval-timeout": { type: "string" },
        "list-cache": { type: "string" },
        "secret-cache": { type: "string" },
        "acl-cache": { type: "string" },
        "token-cache": { type: "string" },
        "workspace-cache": { type: "string" },
        "role-cache": { type: "string" },
        seal: { type: "string" },
        "drain-seconds": { type: "string" },
        "shutdown-grace-seconds": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message}; run 'coffer server --help'`, EXIT.usage);
  }
}

function seconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,4}$/.test(value)) throw new CliError(`${flag} takes whole seconds from 0 to 9999 (got '${value}')`, EXIT.usage);
  return Number(value);
}

function graceDays(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!/^\d{1,3}$/.test(value) || days > 365) throw new CliError(`--rotation-grace-days takes whole days from 0 to 365 (got '${value}')`, EXIT.usage);
  return days;
}

function relayTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d{1,4}$/.test(value) || seconds < 1 || seconds > 3600) throw new CliError(`--relay-timeout takes whole seconds from 1 to 3600 (got '${value}')`, EXIT.usage);
  return seconds;
}

/** A cache's capacity (--list-cache, --relay-route-cache): 0 turns the cache off. */
function cacheSize(flag: string, what: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,7}$/.test(value)) throw new CliError(`${flag} takes a whole number of ${what} from 0 to 9999999 (got '${value}')`, EXIT.usage);
  return Number(value);
}

function approvalTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d{1,3}$/.test(value) || seconds < 1 || seconds > APPROVAL_WAIT.maxSeconds) {
    throw new CliError(`--approval-timeout takes whole seconds from 1 to ${APPROVAL_WAIT.maxSeconds} (got '${value}')`, EXIT.usage);
  }
  return seconds;
}

function parseSeal(value: string | undefined): "shamir" | undefined {
  if (value === undefined || value === "" || value === "file") return undefined;
  if (value === "shamir") return "shamir";
  throw new CliError(`--seal takes 'shamir' (or 'file', the default key file; got '${value}')`, EXIT.usage);
}

function parseListen(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new CliError(`--listen takes HOST:PORT, e.g. 127.0.0.1:8200 (got '${value}')`, EXIT.usage);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

function auditMode(value: string): "on" | "fail-open" | "off" {
  if (value === "on" || value === "fail-open" || value === "off") return value;
  throw new CliError(`--audit takes on, fail-open or off (got '${value}')`, EXIT.usage);
}

function auditSync(value: string): "changes" | "always" {
  if (value === "changes" || value === "always") return value;
  throw new CliError(`--audit-sync takes changes or always (got '${value}')`, EXIT.usage);
}

function retentionDays(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new CliError(`--audit-retention-days takes a whole number of days, 0 for forever (got '${value}')`, EXIT.usage);
  return Number(value);
}
