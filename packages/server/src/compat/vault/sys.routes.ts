/**
 * Vault's sys/ paths that clients and the CLI ask: health, seal status,
 * init, unseal and seal (through SealControl), and mounts, which are
 * workspaces: each one a KV version 2 engine.
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { invalid } from "../../core/errors.ts";
import { noteTarget } from "../../http/audit.ts";
import { requireInstanceAdmin } from "../../identity/guards.ts";
import type { SealControl, SealStatus } from "../../sys/seal.ts";
import type { WorkspaceService, WorkspaceView } from "../../workspace/workspace.service.ts";
import { DEFAULT_MOUNT, envelope, workspaceOfMount } from "./vault.wire.ts";

export interface VaultSysOptions {
  workspaces: WorkspaceService;
  seal: SealControl;
  healthy: () => Promise<boolean>;
  version: string;
}

const hide = true;
const MountParams = Type.Object({ name: Type.String() });
const MountSettings = Type.Optional(Type.Union([Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.String())])), Type.Null()]));

export const vaultSysRoutes: FastifyPluginAsyncTypebox<VaultSysOptions> = async (app, { workspaces, seal, healthy, version }) => {
  const sealStatus = (status: SealStatus) => ({
    type: "shamir",
    initialized: status.initialized,
    sealed: status.sealed,
    t: status.threshold,
    n: status.shares,
    progress: status.progress,
    nonce: "",
    version,
    build_date: "",
    migration: false,
    recovery_seal: false,
    storage_type: "coffer",
  });

  app.route({
    method: ["GET", "HEAD"],
    url: "/sys/health",
    config: { public: true, whileSealed: true },
    schema: { hide },
    handler: async (_request, reply) => {
      const { sealed, initialized } = seal.status();
      const up = !sealed && (await healthy());
      return reply.code(up ? 200 : sealed ? 503 : 500).send({
        initialized,
        sealed,
        standby: false,
        performance_standby: false,
        replication_performance_mode: "disabled",
        replication_dr_mode: "disabled",
        server_time_utc: Math.floor(Date.now() / 1000),
        version,
        cluster_name: "coffer",
      });
    },
  });

  app.get("/sys/seal-status", {
    config: { public: true, whileSealed: true, audit: "sys.seal-status" },
    schema: { hide },
    handler: async () => sealStatus(seal.status()),
  });

  app.get("/sys/init", {
    config: { public: true, whileSealed: true },
    schema: { hide },
    handler: async () => ({ initialized: seal.status().initialized }),
  });

  for (const method of ["POST", "PUT"] as const) {
    app.route({
      method,
      url: "/sys/unseal",
      // Reachable while sealed (that is its point), throttled per address like the native route.
      config: { public: true, whileSealed: true, audit: "sys.unseal" },
      schema: { hide, body: Type.Object({ key: Type.Optional(Type.String({ maxLength: 512 })), reset: Type.Optional(Type.Boolean()) }) },
      handler: async (request) => {
        const { key, reset } = request.body;
        if (reset) await seal.resetUnseal();
        if (!key) {
          if (!reset) throw invalid("key is required");
          return sealStatus(seal.status());
        }
        return sealStatus(await seal.unseal(key, { address: request.ip }));
      },
    });
    app.route({
      method,
      url: "/sys/seal",
      config: { audit: "sys.seal" },
      schema: { hide },
      handler: async (request, reply) => {
        requireInstanceAdmin(request.principal, "seal the server");
        await seal.seal();
        return reply.code(204).send();
      },
    });
  }

  const mountOf = (workspace: Pick<WorkspaceView, "id" | "name">) => ({
    type: "kv",
    description: `Coffer workspace ${workspace.name}`,
    accessor: `kv_${workspace.id}`,
    uuid: workspace.id,
    config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
    options: { version: "2" },
    local: false,
    seal_wrap: false,
    external_entropy_access: false,
    plugin_version: "",
  });

  app.get("/sys/mounts", {
    config: { audit: "workspace.list" },
    schema: { hide },
    handler: async (request) => {
      const mounts: Record<string, ReturnType<typeof mountOf>> = {};
      const list = await workspaces.list(request.principal);
      const home = workspaceOfMount(request.principal, DEFAULT_MOUNT);
      const own = list.find((workspace) => workspace.id === home || workspace.name === home);
      if (own) mounts[`${DEFAULT_MOUNT}/`] = mountOf(own);
      for (const workspace of list) mounts[`${workspace.name}/`] = mountOf(workspace);
      // Vault answers with the mounts both at the top level (older clients) and under data.
      return { ...mounts, ...envelope(request.id, mounts) };
    },
  });

  app.post("/sys/mounts/:name", {
    config: { audit: "workspace.create" },
    schema: {
      hide,
      params: MountParams,
      // Clients send more (description, local, seal_wrap), often null: only type and options matter here. Vault reads
      // options and config as strings or numbers alike ({"version": 2} as its docs write it, "2" as some clients send).
      body: Type.Object({ type: Type.String(), options: MountSettings, config: MountSettings }),
    },
    handler: async (request, reply) => {
      const { type, options } = request.body;
      if (type !== "kv" && type !== "kv-v2") throw invalid("Coffer mounts are KV version 2 engines: type must be kv");
      const version = options?.version;
      if (type === "kv" && version !== undefined && version !== null && String(version) !== "2") throw invalid("Coffer mounts are KV version 2 engines: options.version must be 2");
      const created = await workspaces.create(request.principal, { name: request.params.name.replace(/\/$/, "") });
      noteTarget(request, { workspaceId: created.id });
      return reply.code(204).send();
    },
  });

  // One mount, as Terraform's vault_mount reads it back (Vault 1.10 and later).
  app.get("/sys/mounts/:name", {
    config: { audit: "workspace.read" },
    schema: { hide, params: MountParams },
    handler: async (request) => {
      const mount = request.params.name.replace(/\/$/, "");
      const { workspace } = await workspaces.access(request.principal, workspaceOfMount(request.principal, mount));
      noteTarget(request, { workspaceId: workspace.id });
      const view = mountOf(workspace);
      return { ...view, ...envelope(request.id, view) };
    },
  });

  app.delete("/sys/mounts/:name", {
    config: { audit: "workspace.delete" },
    schema: { hide, params: MountParams },
    handler: async (request, reply) => {
      await workspaces.remove(request.principal, request.params.name.replace(/\/$/, ""));
      noteTarget(request, { subject: request.params.name });
      return reply.code(204).send();
    },
  });

  // The Vault CLI asks this before every `kv` command to learn the engine's version.
  app.get("/sys/internal/ui/mounts/*", {
    config: { audit: "workspace.read" },
    schema: { hide, params: Type.Object({ "*": Type.String() }) },
    handler: async (request) => {
      const mount = request.params["*"].split("/")[0] ?? "";
      const { workspace } = await workspaces.access(request.principal, workspaceOfMount(request.principal, mount));
      noteTarget(request, { workspaceId: workspace.id });
      return envelope(request.id, { ...mountOf(workspace), path: `${mount}/` });
    },
  });
};
