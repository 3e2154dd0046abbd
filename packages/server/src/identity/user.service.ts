/**
 * Users, and logging in. Administrators create, disable and re-enable users;
 * a disabled user's tokens and sessions stop working on the next request, on
 * every node. Passwords are scrypt-hashed; failed logins are slowed down and
 * reported.
 */
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { newId } from "../crypto/generate.ts";
import { decoyHash, hashPassword, verifyPassword } from "../crypto/password.ts";
import { csrfTokenFor } from "../crypto/tokens.ts";
import type { Store } from "../store/store.ts";
import { requireInstanceAdmin } from "./guards.ts";
import type { LimitStore } from "../limits/limit-store.ts";
import { LoginThrottle } from "./login-throttle.ts";
import type { Principal } from "./principal.ts";
import { mintToken, SESSION_TTL_SECONDS, type TokenView } from "./token.service.ts";
import { findUser, findUserByUsername, insertUser, listUsers, updateUser } from "./user.repository.ts";
import { FULL_SCOPE } from "./token-scope.ts";

const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;

export interface UserView {
  id: string;
  username: string;
  admin: boolean;
  disabled: boolean;
  hasPassword: boolean;
  createdAt: number;
}

export interface Session {
  token: string;
  csrfToken: string;
  expiresAt: number;
  user: UserView;
  info: TokenView;
}

/** Told about failed logins (the audit and alert issues subscribe); never given the password. */
/** `failures`: of this username from this address within the last hour. */
export type LoginFailureListener = (event: { username: string; address: string; failures: number }) => void;

export class UserService {
  #store: Store;
  #clock: Clock;
  #throttle: LoginThrottle;
  #onFailure: LoginFailureListener;

  constructor(store: Store, clock: Clock, limits: LimitStore, onFailure: LoginFailureListener) {
    this.#store = store;
    this.#clock = clock;
    this.#throttle = new LoginThrottle(limits);
    this.#onFailure = onFailure;
  }

  async create(principal: Principal, input: { username: string; password?: string | undefined; admin?: boolean | undefined }): Promise<UserView> {
    requireInstanceAdmin(principal, "create users");
    if (!USERNAME.test(input.username)) throw invalid("usernames are 1-64 lower-case letters, digits, '.', '_', '@' or '-'");
    const passwordHash = input.password === undefined ? null : await hashPassword(checkPassword(input.password));
    const row = { id: newId("usr"), username: input.username, passwordHash, isAdmin: input.admin ? 1 : 0, disabledAt: null, createdAt: this.#clock() };
    await this.#store.db.transaction().execute(async (trx) => {
      if (await findUserByUsername(trx, input.username)) {
        throw new CofferError("ALREADY_EXISTS", `a user named '${input.username}' already exists`);
      }
      await insertUser(trx, row);
    });
    return view(row);
  }

  async list(principal: Principal): Promise<UserView[]> {
    requireInstanceAdmin(principal, "list users");
    return (await listUsers(this.#store.db)).map(view);
  }

  async get(principal: Principal, ref: string): Promise<UserView> {
    requireInstanceAdmin(principal, "read users");
    return view(await this.#find(ref));
  }

  /** Disables or re-enables a user, sets its password or its admin flag. */
  async update(principal: Principal, ref: string, change: { disabled?: boolean | undefined; password?: string | undefined; admin?: boolean | undefined }): Promise<UserView> {
    requireInstanceAdmin(principal, "change users");
    const user = await this.#find(ref);
    if (user.id === principal.id && (change.disabled === true || change.admin === false)) {
      throw invalid("administrators cannot disable themselves or drop their own admin role");
    }
    const set: { disabledAt?: number | null; passwordHash?: string; isAdmin?: number } = {};
    if (change.disabled !== undefined) set.disabledAt = change.disabled ? (user.disabledAt ?? this.#clock()) : null;
    if (change.password !== undefined) set.passwordHash = await hashPassword(checkPassword(change.password));
    if (change.admin !== undefined) set.isAdmin = change.admin ? 1 : 0;
    if (Object.keys(set).length === 0) return view(user);
    await this.#store.db.transaction().execute(async (trx) => {
      await updateUser(trx, user.id, set);
      await this.#store.changes.announce(trx, { kind: "user", id: user.id });
    });
    this.#store.changes.apply({ kind: "user", id: user.id });
    return view({ ...user, ...set });
  }

  /** Username and password → a session token (and its CSRF token, for the cookie-based web UI). */
  async login(username: string, password: string, address: string): Promise<Session> {
    const attempts = await this.#throttle.attempt(username, address);
    const user = await findUserByUsername(this.#store.db, username);
    // Unknown users cost a hash too, so response times do not tell which usernames exist.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
    if (!user || !ok || user.passwordHash === null || user.disabledAt !== null) {
      await this.#throttle.failed(username, address);
      this.#onFailure({ username, address, failures: attempts });
      throw new CofferError("UNAUTHENTICATED", "wrong username or password");
    }
    await this.#throttle.succeed(username, address);
    const now = this.#clock();
    const expiresAt = now + SESSION_TTL_SECONDS * 1000;
    const minted = await mintToken(this.#store.db, { principalId: user.id, parentId: null, kind: "session", name: "session", scope: FULL_SCOPE, expiresAt, now });
    return { token: minted.token, csrfToken: csrfTokenFor(minted.token), expiresAt, user: view(user), info: minted.info };
  }

  async #find(ref: string) {
    const user = await findUser(this.#store.db, ref);
    if (!user) throw new CofferError("NOT_FOUND", `no user '${ref}'`);
    return user;
  }
}

function checkPassword(password: string): string {
  if (password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    throw invalid(`passwords are ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`);
  }
  return password;
}

function view(row: { id: string; username: string; isAdmin: number; disabledAt: number | null; passwordHash: string | null; createdAt: number }): UserView {
  return { id: row.id, username: row.username, admin: row.isAdmin === 1, disabled: row.disabledAt !== null, hasPassword: row.passwordHash !== null, createdAt: row.createdAt };
}
