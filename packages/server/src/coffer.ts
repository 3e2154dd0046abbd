/**
 * The core, assembled: store, keyring and the domain services, with no HTTP.
 * `app.ts` puts routes in front of it; tests and operator commands can use it
 * directly.
 */
import { systemClock, type Clock } from "./core/clock.ts";
import { Keyring } from "./crypto/keyring.ts";
import { loadRootKey } from "./crypto/root-key.ts";
import { AccessService } from "./access/access.service.ts";
import { GrantService } from "./access/grant.service.ts";
import { GroupService } from "./access/group.service.ts";
import { AuthService } from "./identity/auth.service.ts";
import { ServiceAccountService } from "./identity/service-account.service.ts";
import { TokenService } from "./identity/token.service.ts";
import { UserService } from "./identity/user.service.ts";
import { KeyService } from "./keys/keys.service.ts";
import type { LimitStore } from "./limits/limit-store.ts";
import { MemoryLimitStore } from "./limits/memory-limit-store.ts";
import { DEFAULT_RATE_LIMITS, RateLimits, type RateLimitSettings } from "./limits/rate-limits.ts";
import { RedisLimitStore } from "./limits/redis-limit-store.ts";
import { SecretService } from "./secret/secret.service.ts";
import { openStore, type Store } from "./store/store.ts";
import { initializeStore } from "./sys/init.ts";
import { alwaysUnsealed, type SealControl } from "./sys/seal.ts";
import { WorkspaceService } from "./workspace/workspace.service.ts";

export interface CofferOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** Base64 root key (COFFER_ROOT_KEY); otherwise the key file in dataDir. */
  rootKey?: string | undefined;
  /** Shares rate-limit and login-throttle counters between nodes (COFFER_REDIS_URL); memory otherwise. */
  redisUrl?: string | undefined;
  /** Prepended to every Redis key (COFFER_REDIS_PREFIX), so installations can share one Redis. */
  redisPrefix?: string | undefined;
  /** Per-token limits for workspaces that set none (COFFER_RATE_LIMITS); 20 reads/s, 5 writes/s. */
  rateLimits?: RateLimitSettings | undefined;
  clock?: Clock;
  log?: (message: string) => void;
}

export interface Coffer {
  store: Store;
  keys: KeyService;
  auth: AuthService;
  users: UserService;
  tokens: TokenService;
  serviceAccounts: ServiceAccountService;
  workspaces: WorkspaceService;
  access: AccessService;
  groups: GroupService;
  grants: GrantService;
  secrets: SecretService;
  limits: RateLimits;
  seal: SealControl;
  /** Set only on the start that initialised the store: show it once, then it is gone. */
  bootstrapToken: string | null;
  rootKeySource: string;
  /** Whether the store answers a trivial query. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

export async function openCoffer(options: CofferOptions): Promise<Coffer> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  const rootKey = loadRootKey({ dataDir: options.dataDir, envValue: options.rootKey });
  const keyring = new Keyring(rootKey.key);
  rootKey.key.fill(0);
  const store = await openStore({ dataDir: options.dataDir, databaseUrl: options.databaseUrl, onError: (error) => log(`store: ${error.message}`) });
  let limitStore: LimitStore | undefined;
  try {
    limitStore = options.redisUrl
      ? await RedisLimitStore.open({ url: options.redisUrl, prefix: options.redisPrefix ?? "coffer:", clock, log })
      : new MemoryLimitStore(clock);
    const limits = new RateLimits(limitStore, options.rateLimits ?? DEFAULT_RATE_LIMITS);
    const init = await initializeStore(store, keyring, clock);
    const keys = new KeyService(store, keyring, clock, log);
    await keys.reload();
    await keys.resumeRewrap();
    const workspaces = new WorkspaceService(store, clock, limits);
    const access = new AccessService(store);
    const secrets = new SecretService(store, keys, clock, workspaces, access);
    return {
      store,
      keys,
      auth: new AuthService(store, clock),
      users: new UserService(store, clock, limitStore, ({ username, address, failures }) =>
        log(`failed login for '${username}' from ${address} (${failures} from there in the last hour)`),
      ),
      tokens: new TokenService(store, clock, workspaces),
      serviceAccounts: new ServiceAccountService(store, clock, workspaces),
      workspaces,
      access,
      groups: new GroupService(store, clock, workspaces),
      grants: new GrantService(store, clock, secrets),
      secrets,
      limits,
      seal: alwaysUnsealed(options.rootKey === undefined ? "file" : "env"),
      bootstrapToken: init?.bootstrapToken ?? null,
      rootKeySource: rootKey.description,
      healthy: async () => {
        try {
          await store.db.selectFrom("meta").select("key").limit(1).execute();
          return true;
        } catch {
          return false;
        }
      },
      close: async () => {
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
