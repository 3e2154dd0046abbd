/**
 * Vault's ACL policy paths: sys/policies/acl/NAME (and the older
 * sys/policy/NAME that hvac's create_or_update_policy and the CLI use), per
 * workspace: the one the `secret/` mount stands for. The rules and their
 * limits are identity/acl-policy.ts's.
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { invalid } from "../../core/errors.ts";
import { noteTarget } from "../../http/audit.ts";
import type { PolicyService } from "../../identity/policy.service.ts";
import { DEFAULT_MOUNT, envelope, workspaceOfMount } from "./vault.wire.ts";

const hide = true;
const Name = Type.Object({ name: Type.String({ maxLength: 128 }) });
const PolicyBody = Type.Object({ policy: Type.Optional(Type.String()), rules: Type.Optional(Type.String()) });

export const vaultPolicyRoutes: FastifyPluginAsyncTypebox<{ policies: PolicyService }> = async (app, { policies }) => {
  const workspaceOf = (request: FastifyRequest) => workspaceOfMount(request.principal, DEFAULT_MOUNT);

  for (const base of ["/sys/policies/acl", "/sys/policy"] as const) {
    const old = base === "/sys/policy";
    app.get(base, {
      config: { audit: "policy.list" },
      schema: { hide },
      handler: async (request) => {
        const names = await policies.list(request.principal, workspaceOf(request));
        // The old path answers with `policies` too, at the top level as well (hvac reads either).
        return old ? { policies: names, keys: names, ...envelope(request.id, { policies: names, keys: names }) } : envelope(request.id, { keys: names });
      },
    });
    app.get(`${base}/:name`, {
      config: { audit: "policy.read" },
      schema: { hide, params: Name },
      handler: async (request) => {
        noteTarget(request, { subject: request.params.name });
        const { name, policy } = await policies.read(request.principal, workspaceOf(request), request.params.name.toLowerCase());
        return old ? { name, rules: policy, ...envelope(request.id, { name, rules: policy }) } : envelope(request.id, { name, policy });
      },
    });
    for (const method of ["POST", "PUT"] as const) {
      app.route({
        method,
        url: `${base}/:name`,
        config: { audit: "policy.write" },
        schema: { hide, params: Name, body: PolicyBody },
        handler: async (request, reply) => {
          noteTarget(request, { subject: request.params.name });
          const text = request.body.policy ?? request.body.rules;
          if (text === undefined) throw invalid("'policy' parameter not supplied or empty");
          await policies.write(request.principal, workspaceOf(request), request.params.name.toLowerCase(), text);
          return reply.code(204).send();
        },
      });
    }
    app.delete(`${base}/:name`, {
      config: { audit: "policy.delete" },
      schema: { hide, params: Name },
      handler: async (request, reply) => {
        noteTarget(request, { subject: request.params.name });
        await policies.remove(request.principal, workspaceOf(request), request.params.name.toLowerCase());
        return reply.code(204).send();
      },
    });
  }
};
