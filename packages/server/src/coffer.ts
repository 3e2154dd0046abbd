/**
 * The core, assembled: store, keyring and the domain services, with no HTTP.
 * `app.ts` puts routes in front of it; tests and operator commands can use it
 * directly.
 */
import { systemClock, type Clock } from "./core/clock.ts";
import { Keyring } from "./crypto/keyring.ts";
import { RootKeyError } from "./crypto/root-key.ts";
import { AccessService } from "./access/access.service.ts";
import { GrantService } from "./access/grant.service.ts";
import { GroupService } from "./access/group.service.ts";
import { AuthService } from "./identity/auth.service.ts";
import { ServiceAccountService } from "./identity/service-account.service.ts";
import { TokenService } from "./identity/token.service.ts";
import { UserService } from "./identity/user.service.ts";
import { KeyService } from "./keys/keys.service.ts";
import { SecretService } from "./secret/secret.service.ts";
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
  seal: SealControl;
  /** Set only on the start that initialised the store: show it once, then it is gone (Shamir: `seal.init` returns it). */
  bootstrapToken: string | null;
  /** Where the root key comes from, for the start-up log; never the key. */
  rootKeySource: string;
  /** Whether the store answers a trivial query. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

export async function openCoffer(options: CofferOptions): Promise<Coffer> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  const store = await openStore({ dataDir: options.dataDir, databaseUrl: options.databaseUrl, onError: (error) => log(`store: ${error.message}`) });
  const keyring = new Keyring();
  try {
    await checkSealType(store, options);
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
    const workspaces = new WorkspaceService(store, clock);
    const access = new AccessService(store);
    const secrets = new SecretService(store, keys, clock, workspaces, access);
    return {
      store,
      keys,
      auth: new AuthService(store, clock),
      users: new UserService(store, clock, ({ username, address, failures }) =>
        log(`failed login for '${username}' from ${address} (${failures} in the last hour)`),
      ),
      tokens: new TokenService(store, clock, workspaces),
      serviceAccounts: new ServiceAccountService(store, clock, workspaces),
      workspaces,
      access,
      groups: new GroupService(store, clock, workspaces),
      grants: new GrantService(store, clock, secrets),
      secrets,
      seal,
      bootstrapToken: init?.bootstrapToken ?? null,
      rootKeySource,
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
        await store.close();
      },
    };
  } catch (error) {
    keyring.clear();
    await store.close();
    throw error;
  }
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
