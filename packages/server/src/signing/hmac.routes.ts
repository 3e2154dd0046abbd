import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { noteTarget } from "../http/audit.ts";
import { errorResponses } from "../http/schemas.ts";
import type { SecretRow } from "../secret/secret.repository.ts";
import { ScopeQuery, SecretParams } from "../secret/secret.schemas.ts";
import type { SecretService } from "../secret/secret.service.ts";
import type { HmacService } from "./hmac.service.ts";

const Message = {
  message: Type.String({ description: "What to sign: text, or bytes in base64 with encoding 'base64'" }),
  encoding: Type.Optional(Type.Union([Type.Literal("utf8"), Type.Literal("base64")], { description: "How message is given; default utf8" })),
};
const Signature = Type.String({ description: "v<key version>:<base64url HMAC-SHA256>" });

export const hmacRoutes: FastifyPluginAsyncTypebox<{ hmac: HmacService; secrets: SecretService }> = async (app, { hmac, secrets }) => {
  const tags = ["secrets"];
  const base = "/api/v1/workspaces/:workspace/secrets/:secret";
  const target = (request: FastifyRequest) => (secret: SecretRow) => {
    noteTarget(request, { workspaceId: secret.workspaceId, secretId: secret.id, secretName: secret.name });
  };

  app.post(`${base}/hmac`, {
    config: { audit: "secret.hmac-sign", rateLimit: "read" },
    schema: {
      tags,
      summary: "Sign a message with an HMAC secret's key (HMAC-SHA256) without revealing it; needs use",
      params: SecretParams,
      querystring: ScopeQuery,
      body: Type.Object(Message, { additionalProperties: false }),
      response: { 200: Type.Object({ signature: Signature, version: Type.Integer({ description: "The key version that signed" }) }), ...errorResponses },
    },
    handler: async (request) => {
      const ctx = await secrets.context(request.principal, request.params.workspace, request.query.scope, request);
      return hmac.sign(ctx, request.params.secret, request.body.message, request.body.encoding, target(request));
    },
  });

  app.post(`${base}/verify`, {
    config: { audit: "secret.hmac-verify", rateLimit: "read" },
    schema: {
      tags,
      summary: "Verify an HMAC signature in constant time; a previous key version counts during the rotation grace period; needs use",
      params: SecretParams,
      querystring: ScopeQuery,
      body: Type.Object({ ...Message, signature: Signature }, { additionalProperties: false }),
      response: { 200: Type.Object({ valid: Type.Boolean(), version: Type.Integer({ description: "The key version the signature names" }) }), ...errorResponses },
    },
    handler: async (request) => {
      const ctx = await secrets.context(request.principal, request.params.workspace, request.query.scope, request);
      const { message, signature, encoding } = request.body;
      return hmac.verify(ctx, request.params.secret, message, signature, encoding, target(request));
    },
  });
};
