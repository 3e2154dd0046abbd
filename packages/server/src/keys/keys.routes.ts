import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { errorResponses } from "../http/schemas.ts";
import { requireInstanceAdmin } from "../identity/guards.ts";
import type { KeyService, KeyStatus } from "./keys.service.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const MaybeTime = Type.Union([Type.String({ format: "date-time" }), Type.Null()]);

const KeyStatusSchema = Type.Object({
  keyVersion: Type.Integer({ description: "The data key new writes use" }),
  keys: Type.Array(Type.Object({ version: Type.Integer(), createdAt: Type.String({ format: "date-time" }), secretVersions: Type.Integer({ description: "Secret versions encrypted under this key" }) })),
  rewrap: Type.Object({
    state: Type.Union([Type.Literal("idle"), Type.Literal("running"), Type.Literal("done"), Type.Literal("failed")]),
    targetKeyVersion: Type.Integer(),
    done: Type.Integer(),
    total: Type.Integer(),
    startedAt: MaybeTime,
    finishedAt: MaybeTime,
    error: Type.Union([Type.String(), Type.Null()]),
  }),
});

function view(status: KeyStatus) {
  return {
    ...status,
    keys: status.keys.map((key) => ({ ...key, createdAt: new Date(key.createdAt).toISOString() })),
    rewrap: { ...status.rewrap, startedAt: iso(status.rewrap.startedAt), finishedAt: iso(status.rewrap.finishedAt) },
  };
}

function requireAdmin(request: FastifyRequest): void {
  requireInstanceAdmin(request.principal, "manage encryption keys");
}

export const keyRoutes: FastifyPluginAsyncTypebox<{ keys: KeyService }> = async (app, { keys }) => {
  const tags = ["sys"];
  app.get("/api/v1/sys/keys", {
    config: { audit: "keys.status" },
    schema: { tags, summary: "Encryption key status and re-wrap progress (administrators)", response: { 200: KeyStatusSchema, ...errorResponses } },
    handler: async (request) => {
      requireAdmin(request);
      return view(await keys.status());
    },
  });
  app.post("/api/v1/sys/keys/rotate", {
    config: { audit: "keys.rotate" },
    schema: { tags, summary: "Add a data key version and re-wrap every secret version under it, online (administrators)", response: { 202: KeyStatusSchema, ...errorResponses } },
    handler: async (request, reply) => {
      requireAdmin(request);
      return reply.code(202).send(view(await keys.rotate()));
    },
  });
};
