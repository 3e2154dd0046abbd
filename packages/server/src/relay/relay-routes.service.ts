/**
 * Base-URL routes: a workspace admin names an upstream (`openai` →
 * https://api.openai.com) with header and query templates holding
 * placeholders, and agents point an unchanged SDK at
 * `/relay/{ws}/{name}/…` with their own Coffer token as the API key. Any
 * member reads the routes (they hold no value); only workspace admins change
 * them. Every member reads the templates, so a credential belongs in a
 * secret named by a placeholder, never in a template as text; a route must
 * name at least one secret (a route without one could relay nothing).
 *
 * Every call through a route looks it up, so routes are cached per node
 * (bounded: --relay-route-cache) and dropped on a change: this node's at
 * once, another node's through the change feed when its write commits.
 */
import { RELAY_ROUTE_NAME, type RelayRoute } from "@coffer/protocol";
import { Cache } from "../core/cache.ts";
import type { Clock } from "../core/clock.ts";
import { CofferError, invalid } from "../core/errors.ts";
import { requireWorkspaceAdmin } from "../identity/guards.ts";
import type { Principal } from "../identity/principal.ts";
import type { Database, Store } from "../store/store.ts";
import type { WorkspaceAccess } from "../workspace/workspace-access.ts";
import type { WorkspaceService } from "../workspace/workspace.service.ts";
import { hasMalformedPlaceholder, placeholdersIn } from "./placeholders.ts";
import { deleteRoute, findRoute, listRoutes, putRoute, type RelayRouteRow } from "./relay-routes.repository.ts";
import { checkHeader, type RouteTemplates } from "./relay.service.ts";

const MAX_TEMPLATES = 20;
const MAX_TEMPLATE_LENGTH = 4096;
const MAX_DESCRIPTION = 500;
const MAX_TARGET = 2048;
/** Routes held in memory per node unless --relay-route-cache says otherwise. */
export const DEFAULT_ROUTE_CACHE = 10_000;

export interface RelayRouteInput {
  target: string;
  headers?: Record<string, string> | undefined;
  query?: Record<string, string> | undefined;
  description?: string | undefined;
}

/** A route and the workspace it was found in (for the audit event). */
export interface FoundRoute {
  workspaceId: string;
  route: RelayRoute & RouteTemplates;
}

export class RelayRouteService {
  #store: Store;
  #clock: Clock;
  #workspaces: WorkspaceService;
  /** Found routes by workspace id and name; a name without a route is not cached. Capacity 0: no cache. */
  #cache: Cache<string, FoundRoute["route"]> | null;

  constructor(store: Store, clock: Clock, workspaces: WorkspaceService, cacheSize = DEFAULT_ROUTE_CACHE) {
    this.#store = store;
    this.#clock = clock;
    this.#workspaces = workspaces;
    const cache = cacheSize > 0 ? new Cache<string, FoundRoute["route"]>(cacheSize) : null;
    this.#cache = cache;
    if (cache) {
      store.changes.subscribe((change) => {
        if (change.kind === "relayRoute") cache.delete(cacheKey(change.workspaceId, change.name));
        else if (change.kind === "workspace" || change.kind === "all") cache.clear();
      });
    }
  }

  async list(principal: Principal, workspace: string): Promise<{ workspaceId: string; routes: RelayRoute[] }> {
    const access = await this.#workspaces.access(principal, workspace);
    return { workspaceId: access.workspace.id, routes: (await listRoutes(this.#store.db, access.workspace.id)).map(view) };
  }

  /** A route of a workspace the caller belongs to; NOT_FOUND when there is none of that name. */
  async get(principal: Principal, workspace: string, name: string): Promise<FoundRoute> {
    return this.find(await this.#workspaces.access(principal, workspace), name);
  }

  /** get() for a caller whose access to the workspace is already checked (the relay's context): no second lookup of it. */
  async find(access: WorkspaceAccess, name: string): Promise<FoundRoute> {
    const workspaceId = access.workspace.id;
    const key = cacheKey(workspaceId, name);
    const cached = this.#cache?.get(key);
    if (cached) return { workspaceId, route: cached };
    const epoch = this.#cache?.epoch ?? 0;
    const row = RELAY_ROUTE_NAME.test(name) ? await findRoute(this.#store.db, workspaceId, name) : undefined;
    if (!row) throw new CofferError("NOT_FOUND", `workspace '${access.workspace.name}' has no relay route '${name}'`);
    const route = view(row);
    this.#cache?.set(key, route, epoch);
    return { workspaceId, route };
  }

  async put(principal: Principal, workspace: string, name: string, input: RelayRouteInput): Promise<FoundRoute> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "change relay routes");
    if (!RELAY_ROUTE_NAME.test(name)) throw invalid("route names are lowercase letters, digits and '-', starting with a letter or digit (at most 63)");
    const target = checkTarget(input.target);
    const headers = input.headers ?? {};
    const query = input.query ?? {};
    const count = Object.keys(headers).length + Object.keys(query).length;
    if (count > MAX_TEMPLATES) throw invalid(`a route holds at most ${MAX_TEMPLATES} templates`);
    for (const [header, template] of Object.entries(headers)) {
      checkHeader(header, template);
      checkTemplate(`header '${header}'`, template);
    }
    for (const [parameter, template] of Object.entries(query)) {
      if (parameter.length === 0 || parameter.length > 128) throw invalid("query parameter names are 1 to 128 characters");
      if (typeof template !== "string") throw invalid(`query parameter '${parameter}' is a string`);
      checkTemplate(`query parameter '${parameter}'`, template);
    }
    if (![...Object.values(headers), ...Object.values(query)].some((template) => placeholdersIn(template).length > 0)) {
      throw invalid("a route names at least one secret in its templates, e.g. Authorization: Bearer @{vault.openai/api-key}");
    }
    const description = input.description ?? "";
    if (description.length > MAX_DESCRIPTION) throw invalid(`a route's description is at most ${MAX_DESCRIPTION} characters`);
    const now = this.#clock();
    const workspaceId = access.workspace.id;
    const row = {
      workspaceId,
      name,
      target,
      headers: JSON.stringify(headers),
      query: JSON.stringify(query),
      description,
      createdAt: now,
      createdBy: principal.id,
      updatedAt: now,
      updatedBy: principal.id,
    };
    await this.#changing(workspaceId, name, (trx) => putRoute(trx, row));
    return this.find(access, name);
  }

  async delete(principal: Principal, workspace: string, name: string): Promise<{ workspaceId: string }> {
    const access = await this.#workspaces.access(principal, workspace);
    requireWorkspaceAdmin(principal, access, "change relay routes");
    const deleted = await this.#changing(access.workspace.id, name, (trx) => deleteRoute(trx, access.workspace.id, name));
    if (!deleted) throw new CofferError("NOT_FOUND", `workspace '${access.workspace.name}' has no relay route '${name}'`);
    return { workspaceId: access.workspace.id };
  }

  /** Runs a change of one route in a transaction that tells the other nodes; this node's cache forgets the route once it commits. */
  async #changing<T>(workspaceId: string, name: string, change: (trx: Database) => Promise<T>): Promise<T> {
    const announced = { kind: "relayRoute" as const, workspaceId, name };
    const result = await this.#store.db.transaction().execute(async (trx) => {
      const done = await change(trx);
      await this.#store.changes.announce(trx, announced);
      return done;
    });
    this.#store.changes.apply(announced);
    return result;
  }
}

/** An absolute http(s) URL, optionally with a path prefix; no credentials, query or fragment. Kept without a trailing slash. */
function checkTarget(target: string): string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw invalid("target is an absolute http(s) URL, e.g. https://api.openai.com");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw invalid("target is an http or https URL");
  if (url.username || url.password) throw invalid("target may not carry credentials; put them in a header template with a placeholder");
  if (url.search || url.hash || target.includes("?") || target.includes("#")) throw invalid("target has no query or fragment; query templates go in 'query'");
  if (target.includes("@{vault.")) throw invalid("placeholders go in header or query templates, not in the target");
  if (target.length > MAX_TARGET) throw invalid(`target is at most ${MAX_TARGET} characters`);
  return target.replace(/\/+$/, "");
}

/** Bounded, and nothing in it is almost a placeholder (a typo would otherwise travel as text). */
function checkTemplate(what: string, template: string): void {
  if (template.length > MAX_TEMPLATE_LENGTH) throw invalid(`${what}: a template is at most ${MAX_TEMPLATE_LENGTH} characters`);
  if (hasMalformedPlaceholder(template)) throw invalid(`${what}: something looks like a placeholder but is not one: write @{vault.NAME} or @{vault.NAME.KEY}`);
}

function cacheKey(workspaceId: string, name: string): string {
  return `${workspaceId}\u0000${name}`;
}

function view(row: RelayRouteRow): RelayRoute & RouteTemplates {
  return {
    name: row.name,
    target: row.target,
    headers: JSON.parse(row.headers) as Record<string, string>,
    query: JSON.parse(row.query) as Record<string, string>,
    description: row.description,
    createdAt: new Date(Number(row.createdAt)).toISOString(),
    updatedAt: new Date(Number(row.updatedAt)).toISOString(),
  };
}
