/**
 * The core, assembled: store, keyring and the domain services, with no HTTP.
 * `app.ts` puts routes in front of it; tests and operator commands can use it
 * directly.
 */
import { AlertService } from "./alert/alert.service.ts";
import { WebhookService, type WebhookOptions } from "./alert/webhook.service.ts";
import { ApprovalService } from "./approval/approval.service.ts";
import { AuditReader } from "./audit/audit-reader.service.ts";
import { appendInProcess, appendToSharedStore } from "./audit/audit-append.ts";
import { AuditLog, type AuditSync } from "./audit/audit.service.ts";
import { systemEvent } from "./audit/audit.types.ts";
import { DAY_MS, systemClock, type Clock } from "./core/clock.ts";
import { Keyring } from "./crypto/keyring.ts";
import { RootKeyError } from "./crypto/root-key.ts";
import { AccessService, DEFAULT_ACL_CACHE } from "./access/access.service.ts";
import { CanaryAlarm } from "./canary/canary.alarm.ts";
import { LifecycleJob } from "./lifecycle/lifecycle.job.ts";
import { LifecycleService } from "./lifecycle/lifecycle.service.ts";
import { GrantService } from "./access/grant.service.ts";
import { GroupService } from "./access/group.service.ts";
import { BackupService } from "./backup/backup.service.ts";
import { AuthService, DEFAULT_TOKEN_CACHE } from "./identity/auth.service.ts";
import { ServiceAccountService } from "./identity/service-account.service.ts";
import { TokenService } from "./identity/token.service.ts";
import { PolicyService } from "./identity/policy.service.ts";
import { UserService } from "./identity/user.service.ts";
import { KeyService } from "./keys/keys.service.ts";
import { RotationEvents } from "./rotation/rotation.events.ts";
import { RotationJob } from "./rotation/rotation.job.ts";
import { DEFAULT_GRACE_DAYS } from "./rotation/rotation.rules.ts";
import { RotationService } from "./rotation/rotation.service.ts";
import type { LimitStore } from "./limits/limit-store.ts";
import { MemoryLimitStore } from "./limits/memory-limit-store.ts";
import { DEFAULT_RATE_LIMITS, RateLimits, type RateLimitSettings } from "./limits/rate-limits.ts";
import { SecretService } from "./secret/secret.service.ts";
import { DEFAULT_SECRET_CACHE } from "./secret/secret-reader.ts";
import { DEFAULT_LIST_CACHE_SECRETS } from "./secret/secret-summaries.ts";
import { SecretFolders } from "./secret/secret-folders.ts";
import { HmacService } from "./signing/hmac.service.ts";
import { RelayRouteService } from "./relay/relay-routes.service.ts";
import { DEFAULT_TIMEOUT_SECONDS, RelayService } from "./relay/relay.service.ts";
import { openStore, type Store } from "./store/store.ts";
import { initializeStore } from "./sys/init.ts";
import { alwaysUnsealed, unlockWithRootKey, type SealControl } from "./sys/seal.ts";
import { readSealConfig } from "./sys/seal.repository.ts";
import { ShamirSeal } from "./sys/shamir-seal.ts";
import { WorkspaceService } from "./workspace/workspace.service.ts";

export interface CofferOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** Base64 root key (COFFER_ROOT_KEY); otherwise the key file in dataDir. */
  rootKey?: string | undefined;
  /** The root key COFFER_ROOT_KEY replaces (COFFER_ROOT_KEY_PREVIOUS): the first start re-wraps the keyring under the new one. */
  previousRootKey?: string | undefined;
  /** "shamir": the root key is split into shares; the core opens sealed (and uninitialised until `seal.init`). */
  seal?: "shamir" | undefined;
  /** Shares rate-limit and login-throttle counters between nodes (COFFER_REDIS_URL); memory otherwise. */
  redisUrl?: string | undefined;
  /** Prepended to every Redis key (COFFER_REDIS_PREFIX), so installations can share one Redis. */
  redisPrefix?: string | undefined;
  /** Per-token limits for workspaces that set none (COFFER_RATE_LIMITS); 20 reads/s, 5 writes/s. */
  rateLimits?: RateLimitSettings | undefined;
  clock?: Clock;
  log?: (message: string) => void;
  audit?: AuditSettings;
  /** Retry timing of webhook deliveries (tests shorten it). */
  webhooks?: Omit<WebhookOptions, "log">;
  /** How long a version superseded by a rotation still verifies HMAC signatures and is kept; default 7 days. */
  rotationGraceDays?: number | undefined;
  /** How often the rotation job runs (ms); 0 never runs it by itself (tests call rotationJob.run()). Default one minute. */
  rotationJobEveryMs?: number;
  /** The longest a relayed call's upstream may stay silent, in seconds (--relay-timeout); default 30. */
  relayTimeoutSeconds?: number | undefined;
  /** Relay routes kept in memory per node (--relay-route-cache); default 10000, 0 for none. */
  relayRouteCache?: number | undefined;
  /** How often the lifecycle job (expiry warnings, unused secrets) runs (ms); 0 never runs it by itself. Default one minute. */
  lifecycleJobEveryMs?: number;
  /** How long a use that needs a person's approval waits for one, in seconds (--approval-timeout); default 60, at most 600. */
  approvalTimeoutSeconds?: number | undefined;
  /** How many secret summaries lists keep in memory (--list-cache); default 20,000, 0 keeps none. */
  listCacheSecrets?: number | undefined;
  /** How many secrets reads keep decrypted in memory (--secret-cache); default 10,000, 0 keeps none. */
  secretCache?: number | undefined;
  /** How many workspaces' grants and group memberships each node keeps in memory (--acl-cache); default 1,000, 0 keeps none. */
  aclCache?: number | undefined;
  /** How many tokens' principals each node keeps in memory (--token-cache); default 10,000, 0 keeps none. */
  tokenCache?: number | undefined;
  /** How many workspaces each node keeps in memory by id and name (--workspace-cache); default 10,000, 0 keeps none. */
  workspaceCache?: number | undefined;
  /** How many principals' roles in workspaces each node keeps in memory (--role-cache); default 100,000, 0 keeps none. */
  roleCache?: number | undefined;
}

export interface AuditSettings {
  /** "on": a request fails unless its event is durable (default); "fail-open": it goes ahead, loudly; "off": nothing is recorded. */
  mode: "on" | "fail-open" | "off";
  /** Events older than this many days are removed; 0 keeps them forever. */
  retentionDays: number;
  /**
   * When a request's event must be synced to disk before the answer:
   * "changes" (default): for every request but a read (GET, HEAD), whose
   * events are answered once written (they survive a crash of Coffer) and
   * synced within a fraction of a second; "always": for every request.
   */
  sync?: AuditSync;
}

export const DEFAULT_AUDIT: AuditSettings = { mode: "on", retentionDays: 365, sync: "changes" };
const HOUSEKEEPING_EVERY_MS = 3_600_000;
/** Tokens expired or revoked this long ago are removed; till then their use is refused as expired or revoked, not unknown. */
const TOKEN_TIDY_DAYS = 7;
const HEALTH_PROBE_MS = 2_000;

export interface Coffer {
  store: Store;
  keys: KeyService;
  auth: AuthService;
  users: UserService;
  tokens: TokenService;
  /** Vault ACL policies (the /v1 adapter's sys/policies). */
  policies: PolicyService;
  serviceAccounts: ServiceAccountService;
  workspaces: WorkspaceService;
  access: AccessService;
  groups: GroupService;
  grants: GrantService;
  secrets: SecretService;
  folders: SecretFolders;
  hmac: HmacService;
  relay: RelayService;
  relayRoutes: RelayRouteService;
  approvals: ApprovalService;
  rotation: RotationService;
  /** Reminders and self-rotations; webhooks subscribe here. */
  rotationEvents: RotationEvents;
  rotationJob: RotationJob;
  /** Expiry warnings and unused-secret alerts. */
  lifecycleJob: LifecycleJob;
  lifecycle: LifecycleService;
  backups: BackupService;
  limits: RateLimits;
  seal: SealControl;
  audit: AuditLog;
  auditReader: AuditReader;
  alerts: AlertService;
  webhooks: WebhookService;
  auditSettings: AuditSettings;
  clock: Clock;
  /** Set only on the start that initialised the store: show it once, then it is gone (Shamir: `seal.init` returns it). */
  bootstrapToken: string | null;
  /** Where the root key comes from, for the start-up log; never the key. */
  rootKeySource: string;
  /** Whether the store answers a trivial query within a couple of seconds. */
  healthy(): Promise<boolean>;
  /** Set by drain(): the health check fails so balancers send this node nothing new. */
  readonly draining: boolean;
  /** Starts leaving: health answers 503 from now on; requests are still served. */
  drain(): void;
  close(): Promise<void>;
}

export async function openCoffer(options: CofferOptions): Promise<Coffer> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  const store = await openStore({ dataDir: options.dataDir, databaseUrl: options.databaseUrl, onError: (error) => log(`store: ${error.message}`), log });
  const keyring = new Keyring();
  let limitStore: LimitStore | undefined;
  try {
    await checkSealType(store, options);
    // The Redis client is imported only where one is configured: most servers count in memory.
    limitStore = options.redisUrl
      ? await (await import("./limits/redis-limit-store.ts")).RedisLimitStore.open({ url: options.redisUrl, prefix: options.redisPrefix ?? "coffer:", clock, log })
      : new MemoryLimitStore(clock);
    const limits = new RateLimits(limitStore, options.rateLimits ?? DEFAULT_RATE_LIMITS);
    const keys = new KeyService(store, keyring, clock, log);
    let seal: SealControl;
    let rootKeySource: string;
    let init: { bootstrapToken: string } | null = null;
    if (options.seal === "shamir") {
      seal = await ShamirSeal.open({ store, keys, clock, log });
      rootKeySource = "Shamir shares";
    } else {
      rootKeySource = await unlockWithRootKey(keys, { dataDir: options.dataDir, envValue: options.rootKey, previousEnvValue: options.previousRootKey, log });
      init = await initializeStore(store, keyring, clock);
      await keys.reload();
      await keys.resumeRewrap();
      seal = alwaysUnsealed(options.rootKey ? "env" : "file", { keys, dataDir: options.dataDir });
    }
    const workspaces = new WorkspaceService(store, clock, limits, { workspaces: options.workspaceCache, roles: options.roleCache });
    const access = new AccessService(store, options.aclCache ?? DEFAULT_ACL_CACHE);
    const auditSettings = options.audit ?? DEFAULT_AUDIT;
    const audit = new AuditLog(store, store.dialect.sharedByNodes ? appendToSharedStore(store) : appendInProcess(store), { failOpen: auditSettings.mode === "fail-open", syncReads: auditSettings.sync === "always", log });
    const webhooks = new WebhookService(store, clock, keys, workspaces, { ...options.webhooks, log });
    const alerts = new AlertService(store, clock, workspaces, webhooks, limitStore, { log });
    const tokens = new TokenService(store, clock, workspaces);
    const stopHousekeeping = keepTidy(audit, alerts, tokens, auditSettings.retentionDays, clock, log);
    audit.onAppended((records) => alerts.fromAudit(records));
    const graceDays = options.rotationGraceDays ?? DEFAULT_GRACE_DAYS;
    const canaries = new CanaryAlarm(auditSettings.mode === "off" ? null : audit, alerts, clock, log);
    const secrets = new SecretService(store, keys, clock, workspaces, access, graceDays, canaries, log, options.listCacheSecrets ?? DEFAULT_LIST_CACHE_SECRETS, options.secretCache ?? DEFAULT_SECRET_CACHE);
    const rotationEvents = new RotationEvents((error) => log(`rotation event listener failed: ${(error as Error).message}`));
    const rotationJob = new RotationJob(store, secrets, rotationEvents, clock, log);
    rotationEvents.subscribe((event) => {
      // A self-rotation is a write no request made: the log records it as the system's.
      if (event.type === "secret.rotated") {
        audit.record(systemEvent(clock(), "secret.auto-rotate", event)).catch(() => {});
      } else alerts.fromRotation(event);
    });
    if (options.rotationJobEveryMs !== 0) rotationJob.start(options.rotationJobEveryMs);
    const lifecycleJob = new LifecycleJob(store, secrets, alerts, clock, log);
    if (options.lifecycleJobEveryMs !== 0) lifecycleJob.start(options.lifecycleJobEveryMs);
    const grants = new GrantService(store, clock, secrets);
    const approvals = new ApprovalService(store, clock, secrets, grants, alerts, auditSettings.mode === "off" ? null : audit, { waitSeconds: options.approvalTimeoutSeconds, log });
    const relay = new RelayService(secrets, {
      timeoutSeconds: options.relayTimeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      approvals,
      countUse: (ctx, secret) => limits.countRelayUse(ctx.principal, secret),
    });
    let draining = false;
    return {
      store,
      keys,
      auth: new AuthService(store, clock, options.tokenCache ?? DEFAULT_TOKEN_CACHE),
      // Not the username: what is typed there is sometimes a password.
      users: new UserService(store, clock, limitStore, ({ address, failures }) => log(`failed login from ${address} (${failures} from there in the last hour)`)),
      tokens,
      policies: new PolicyService(store, clock, workspaces),
      serviceAccounts: new ServiceAccountService(store, clock, workspaces),
      workspaces,
      access,
      groups: new GroupService(store, clock, workspaces),
      grants,
      secrets,
      folders: new SecretFolders(secrets, access),
      hmac: new HmacService(secrets, clock, graceDays, approvals),
      relay,
      relayRoutes: new RelayRouteService(store, clock, workspaces, options.relayRouteCache),
      approvals,
      rotation: new RotationService(store, clock, workspaces, graceDays),
      rotationEvents,
      rotationJob,
      lifecycleJob,
      lifecycle: new LifecycleService(store, secrets, workspaces, clock),
      backups: new BackupService(store, keyring, clock),
      seal,
      audit,
      auditReader: new AuditReader(audit, workspaces),
      alerts,
      webhooks,
      auditSettings,
      clock,
      limits,
      bootstrapToken: init?.bootstrapToken ?? null,
      rootKeySource,
      healthy: async () => {
        let timer: NodeJS.Timeout | undefined;
        // A store that hangs (a full pool, a partitioned network) must fail the check, not stall the balancer's probe.
        const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, HEALTH_PROBE_MS, false)));
        const probe = store.db.selectFrom("meta").select("key").limit(1).execute().then(
          () => true,
          () => false,
        );
        try {
          return await Promise.race([probe, timeout]);
        } finally {
          clearTimeout(timer);
        }
      },
      get draining() {
        return draining;
      },
      drain: () => {
        draining = true;
      },
      close: async () => {
        await stopHousekeeping();
        await audit.drain();
        await alerts.settled();
        await webhooks.stop();
        await rotationJob.stop();
        await lifecycleJob.stop();
        await secrets.close();
        relay.close();
        approvals.close();
        keyring.clear();
        await limits.close();
        await store.close();
      },
    };
  } catch (error) {
    keyring.clear();
    await limitStore?.close();
    await store.close();
    throw error;
  }
}

/**
 * Housekeeping, now and every hour: the audit log, and the alerts and
 * webhook deliveries made from it, past their retention (if any); tokens
 * ended (expired or revoked) over TOKEN_TIDY_DAYS ago. Returns the function
 * that stops it, once a run under way is done (the store closes next: a run
 * left going would fail on it, as a server whose listen failed just after
 * start logged).
 */
function keepTidy(audit: AuditLog, alerts: AlertService, tokens: TokenService, retentionDays: number, clock: Clock, log: (message: string) => void): () => Promise<void> {
  const run = async () => {
    const now = clock();
    if (retentionDays > 0) {
      const before = now - retentionDays * DAY_MS;
      await audit.prune(before).then(
        (removed) => removed > 0 && log(`audit retention: removed ${removed} event(s) older than ${retentionDays} days`),
        (error: Error) => log(`audit retention failed: ${error.message}`),
      );
      await alerts.prune(before).then(
        (removed) => removed.alerts + removed.deliveries > 0 && log(`alert retention: removed ${removed.alerts} alert(s) and ${removed.deliveries} webhook delivery record(s) older than ${retentionDays} days`),
        (error: Error) => log(`alert retention failed: ${error.message}`),
      );
    }
    await tokens.tidy(now - TOKEN_TIDY_DAYS * DAY_MS).then(
      (removed) => removed > 0 && log(`token tidy: removed ${removed} token(s) expired or revoked over ${TOKEN_TIDY_DAYS} days ago`),
      (error: Error) => log(`token tidy failed: ${error.message}`),
    );
  };
  let running = run();
  const timer = setInterval(() => (running = run()), HOUSEKEEPING_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    return running;
  };
}

/** A store keeps the provider it was initialised with: starting it with the other one is refused before any key file is made. */
async function checkSealType(store: Store, options: CofferOptions): Promise<void> {
  const stored = await readSealConfig(store.db);
  if (options.seal === "shamir") {
    if (options.rootKey) throw new RootKeyError("a Shamir-sealed server takes no COFFER_ROOT_KEY: unset it, or start without --seal shamir");
    if (stored.initialized && !stored.shamir) {
      throw new RootKeyError("this store's root key is a key file or COFFER_ROOT_KEY, not Shamir shares: start the server without --seal shamir");
    }
  } else if (stored.shamir) {
    throw new RootKeyError("this store's root key is split into Shamir shares: start the server with --seal shamir, then unseal it");
  }
}
