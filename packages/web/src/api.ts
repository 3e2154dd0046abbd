/**
 * The UI's one door to the server: the SDK in browser mode (the session
 * cookie travels by itself, the CSRF token goes in a header, and every write
 * asks for `Prefer: return=minimal`, so no answer ever carries a value), plus
 * the hooks pages use to load and to act.
 *
 * The UI never calls a route that returns a value: no readSecret,
 * secret-reads or versions/{n}; a secret's page uses `metadata`.
 */
import { Coffer, CofferError, type Route, type RouteName, type SecretSummary, type SecretVersionInfo } from "@coffer/sdk";
import { useCallback, useEffect, useRef, useState } from "react";

export { CofferError };
export type { SecretSummary, SecretVersionInfo };

/**
 * Routes of features a server may not have yet (audit log, seal, alerts,
 * rotation defaults). A 404 NOT_FOUND from one means "not on this server":
 * the page hides the feature instead of showing an error.
 */
export const OPTIONAL = {
  audit: ["GET", "/api/v1/audit"],
  auditVerify: ["GET", "/api/v1/audit/verify"],
  alerts: ["GET", "/api/v1/workspaces/{workspace}/alerts"],
  sealStatus: ["GET", "/api/v1/sys/seal-status"],
  rotationDefaults: ["PUT", "/api/v1/workspaces/{workspace}/rotation-defaults"],
  relayRoutes: ["GET", "/api/v1/workspaces/{workspace}/relay-routes"],
  approvals: ["GET", "/api/v1/workspaces/{workspace}/approvals"],
} as const satisfies Record<string, Route>;

export type Level = "see" | "use" | "read" | "write" | "manage";
export const LEVELS: Level[] = ["see", "use", "read", "write", "manage"];
export const atLeast = (level: string, wanted: Level) => LEVELS.indexOf(level as Level) >= LEVELS.indexOf(wanted);

export interface Rotation {
  intervalDays: number;
  rotatedAt: string;
  dueAt: string;
  status: "ok" | "due" | "overdue";
}
/** A list item; `rotation` arrives with the rotation feature. */
export type Summary = SecretSummary & { rotation?: Rotation };
export type Metadata = Summary & { access: Level };

export interface User {
  id: string;
  username: string;
  admin: boolean;
  disabled: boolean;
  hasPassword: boolean;
}
export interface Workspace {
  id: string;
  name: string;
  role: string | null;
  maxVersions: number;
  rateLimits?: { readsPerSecond: number; writesPerSecond: number };
}
export interface TokenInfo {
  id: string;
  name: string;
  kind: string;
  access: string;
  secrets: string[] | null;
  workspaceId: string | null;
  expiresAt: string | null;
  createdAt: string;
  lastUsedAt?: string | null;
}

/** The CSRF token is not a credential by itself (the cookie is HttpOnly); it lives as long as the tab. */
const STORAGE = "coffer.session";

export interface Session {
  csrfToken: string;
  user: User;
}

export function savedSession(): Session | null {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE) ?? "null") as Session | null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(STORAGE, JSON.stringify(session));
  else sessionStorage.removeItem(STORAGE);
}

/** The SDK client for a session; `onUnauthenticated` hears of any 401 (the session ended or was revoked). */
export function clientFor(session: Session | null, workspace?: string, onUnauthenticated?: () => void): Coffer {
  const watched: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (response.status === 401) onUnauthenticated?.();
    return response;
  };
  return new Coffer({
    fetch: watched,
    addr: location.origin,
    token: "",
    workspace: workspace ?? "default",
    csrfToken: session?.csrfToken,
    writeOnly: true,
    // One retry after Retry-After; then the page says so.
    maxRetries: 1,
  });
}

export async function login(username: string, password: string): Promise<Session> {
  // A cookie session: the token lives only in the HttpOnly cookie, and the answer never carries it to this page's scripts.
  const answer = await clientFor(null).call<{ csrfToken: string; user: User }>("login", {}, { body: { username, password, session: "cookie" } });
  return { csrfToken: answer.csrfToken, user: answer.user };
}

/** Whether an error means "this server has no such feature". */
export function isMissingRoute(error: unknown): boolean {
  return error instanceof CofferError && error.code === "NOT_FOUND" && /^no route /.test(error.message);
}

/** What a person should read for each error code: what happened and what to do. */
export function describeError(error: unknown): string {
  if (typeof error === "string") return error;
  if (!(error instanceof CofferError)) return "The server could not be reached. Check that it is running, then try again.";
  const detail = error.message ? ` (${error.message})` : "";
  switch (error.code) {
    case "UNAUTHENTICATED":
      return "Your session has ended. Log in again.";
    case "ACCESS_DENIED":
      return `You are not allowed to do this${detail}. Ask a workspace admin for access.`;
    case "SECRET_NOT_FOUND":
      return "No such secret, or it is not shared with you.";
    case "WORKSPACE_NOT_FOUND":
      return "No such workspace, or you are not a member of it.";
    case "VERSION_NOT_FOUND":
      return `That version no longer exists${detail}; older versions are pruned.`;
    case "SECRET_ALREADY_EXISTS":
      return "A secret with this name already exists (it may be deleted: restore it from the deleted list).";
    case "ALREADY_EXISTS":
    case "WORKSPACE_ALREADY_EXISTS":
      return `That name is taken${detail}.`;
    case "VERSION_CONFLICT":
      return "Someone changed this secret while you were editing. Reload it, then try again.";
    case "PAYLOAD_TOO_LARGE":
      return `Too large${detail}. A secret holds at most 100 keys and 64 KiB.`;
    case "RATE_LIMITED":
      return "Too many requests. Wait a few seconds, then try again.";
    case "SEALED":
      return "The server is sealed. An operator must unseal it before secrets can be used.";
    case "INVALID_REQUEST":
    case "INVALID_SECRET_TYPE":
      return error.message;
    case "INTERNAL":
    case "INTEGRITY_ERROR":
      return `The server failed${error.requestId ? ` (request ${error.requestId})` : ""}. An operator can find it in the server log.`;
    default:
      return `${error.message || "The request failed"} [${error.code}]`;
  }
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Loads with `fn` whenever `deps` change; a newer load wins over a slower older one. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((previous) => ({ ...previous, loading: true }));
    fn().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data: state.data, error: state.error, loading: state.loading, reload: useCallback(() => setTick((n) => n + 1), []) };
}

export interface Action {
  pending: boolean;
  error: unknown;
  /** Runs `fn`; resolves to its result, or undefined when it failed (the error is in `error`). */
  run: <T>(fn: () => Promise<T>) => Promise<T | undefined>;
  clear: () => void;
}

/** A button's request: one at a time, with its error kept for the page to show. */
export function useAction(): Action {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const mounted = useRef(true);
  // Set again on mount: React's StrictMode (dev) unmounts and remounts once, which would leave it false for good.
  useEffect(() => {
    mounted.current = true;
    return () => void (mounted.current = false);
  }, []);
  const run = useCallback(async <T,>(fn: () => Promise<T>) => {
    setPending(true);
    setError(undefined);
    try {
      return await fn();
    } catch (caught) {
      if (mounted.current) setError(caught);
      return undefined;
    } finally {
      if (mounted.current) setPending(false);
    }
  }, []);
  return { pending, error, run, clear: useCallback(() => setError(undefined), []) };
}

export type { Route, RouteName };

/** What this server offers, read once from its OpenAPI document, so pages hide what it lacks. */
export interface Features {
  has: (route: Route) => boolean;
  /** Secrets take `rotationIntervalDays` and list their rotation status. */
  rotation: boolean;
}

let features: Promise<Features> | undefined;
/** The features once read: a page rendered after that shows its navigation whole at once, not filled in a moment later. */
let loaded: Features | undefined;

export function loadFeatures(): Promise<Features> {
  features ??= fetch("/api/v1/openapi.json", { credentials: "same-origin" })
    .then((response) => response.json() as Promise<{ paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { properties?: object } }> } }>> }>)
    .then((doc) => {
      const has = ([method, path]: Route) => Boolean(doc.paths[path]?.[method.toLowerCase()]);
      const create = doc.paths["/api/v1/workspaces/{workspace}/secrets"]?.post?.requestBody?.content?.["application/json"]?.schema?.properties ?? {};
      return { has, rotation: "rotationIntervalDays" in create };
    })
    .catch(() => ({ has: () => false, rotation: false }))
    .then((read) => (loaded = read));
  return features;
}

export function useFeatures(): Features | undefined {
  const [value, setValue] = useState<Features | undefined>(loaded);
  useEffect(() => void loadFeatures().then(setValue), []);
  return value;
}
