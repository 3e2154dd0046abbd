/**
 * Seal status, init, unseal, seal, rekey and root-key rotation. Status, init
 * and unseal are public and answer while sealed (as in Vault: nobody can log
 * in to a sealed server); the rest are for instance administrators. Shares
 * travel only in bodies, and only init, rekey and rotation answer with them.
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { invalid } from "../core/errors.ts";
import { errorResponses } from "../http/schemas.ts";
import { requireInstanceAdmin } from "../identity/guards.ts";
import { MAX_SHARES } from "../crypto/shamir.ts";
import type { SealControl } from "./seal.ts";

const SealType = Type.Union([Type.Literal("shamir"), Type.Literal("file"), Type.Literal("env")], { description: "Where the root key comes from" });

const SealStatusSchema = Type.Object(
  {
    sealed: Type.Boolean(),
    type: SealType,
    initialized: Type.Boolean(),
    threshold: Type.Integer({ description: "Shares needed to unseal" }),
    shares: Type.Integer({ description: "Shares the root key is split into" }),
    progress: Type.Integer({ description: "Shares given so far towards the next unseal" }),
  },
  { $id: "SealStatus" },
);

const Count = (description: string) => Type.Integer({ minimum: 2, maximum: MAX_SHARES, description });
const ShareText = Type.String({ minLength: 1, maxLength: 512, description: "One share as printed (cfs_…)" });
const CurrentShares = Type.Array(ShareText, { minItems: 1, maxItems: MAX_SHARES, description: "`threshold` current shares: the key holders' consent" });
const NewShares = Type.Object({
  shares: Type.Array(Type.String(), { description: "Shown once: the server keeps none of them" }),
  threshold: Type.Integer(),
});

export const sealRoutes: FastifyPluginAsyncTypebox<{ seal: SealControl }> = async (app, { seal }) => {
  app.addSchema(SealStatusSchema);
  const tags = ["sys"];

  app.get("/api/v1/sys/seal-status", {
    config: { public: true, whileSealed: true, audit: "sys.seal-status" },
    schema: { tags, summary: "Whether the server is sealed, and the unseal progress (no token needed)", security: [], response: { 200: Type.Ref("SealStatus"), ...errorResponses } },
    handler: async () => seal.status(),
  });

  app.post("/api/v1/sys/init", {
    config: { public: true, whileSealed: true, audit: "sys.init" },
    schema: {
      tags,
      summary: "Initialise a Shamir-sealed server, once: the root key's shares and the admin bootstrap token, shown only in this answer",
      security: [],
      body: Type.Object({ shares: Count("Shares to split the root key into"), threshold: Count("Shares needed to unseal") }, { additionalProperties: false }),
      response: { 200: Type.Object({ ...NewShares.properties, bootstrapToken: Type.String() }), ...errorResponses },
    },
    handler: async (request) => seal.init(request.body),
  });

  app.post("/api/v1/sys/unseal", {
    config: { public: true, whileSealed: true, audit: "sys.unseal" },
    schema: {
      tags,
      summary: "Give one unseal share (no token needed); `reset: true` discards the shares given so far. Wrong shares are throttled per address",
      security: [],
      body: Type.Object({ share: Type.Optional(ShareText), reset: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 200: Type.Ref("SealStatus"), ...errorResponses },
    },
    handler: async (request) => {
      const { share, reset } = request.body;
      if (reset) await seal.resetUnseal();
      if (share === undefined) {
        if (!reset) throw invalid("send a share, or reset: true");
        return seal.status();
      }
      return seal.unseal(share, { address: request.ip });
    },
  });

  app.post("/api/v1/sys/seal", {
    config: { audit: "sys.seal" },
    schema: { tags, summary: "Seal this node: drop every key and decrypted value from memory (administrators)", response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      requireInstanceAdmin(request.principal, "seal the server");
      await seal.seal();
      return reply.code(204).send(null);
    },
  });

  app.post("/api/v1/sys/rekey", {
    config: { audit: "sys.rekey" },
    schema: {
      tags,
      summary: "New shares for the same root key, given `threshold` current ones; the old shares stop working (administrators)",
      body: Type.Object({ shares: Count("New number of shares"), threshold: Count("New threshold"), currentShares: CurrentShares }, { additionalProperties: false }),
      response: { 200: NewShares, ...errorResponses },
    },
    handler: async (request) => {
      requireInstanceAdmin(request.principal, "rekey the server");
      return seal.rekey(request.body);
    },
  });

  app.post("/api/v1/sys/root-key/rotate", {
    config: { audit: "sys.root-key-rotate" },
    schema: {
      tags,
      summary: "A new root key; only the keyring is re-wrapped. Shamir: give `threshold` current shares, get new ones. Key file: rewritten in place (administrators)",
      body: Type.Object(
        { currentShares: Type.Optional(CurrentShares), shares: Type.Optional(Count("New number of shares (default: as now)")), threshold: Type.Optional(Count("New threshold (default: as now)")) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({ type: SealType, shares: Type.Optional(Type.Array(Type.String())), threshold: Type.Optional(Type.Integer()) }),
        ...errorResponses,
      },
    },
    // A key-file rotation needs no body at all.
    preValidation: async (request) => {
      request.body ??= {};
    },
    handler: async (request) => {
      requireInstanceAdmin(request.principal, "rotate the root key");
      return seal.rotateRootKey(request.body);
    },
  });
};
