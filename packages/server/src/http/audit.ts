/**
 * Audit contract for routes: every authenticated route names its action in
 * `config: { audit: "secret.read" }` (`<resource>.<verb>`), and handlers add
 * what they learn to `request.auditTarget` (ids and names, never values).
 */
import type { AuditTarget } from "../audit/audit.types.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    audit?: string;
  }
  interface FastifyRequest {
    auditTarget: AuditTarget;
  }
}

/** Adds what a handler learned to the request's audit target. */
export function noteTarget(request: { auditTarget: AuditTarget }, target: AuditTarget): void {
  request.auditTarget = request.auditTarget ? Object.assign(request.auditTarget, target) : { ...target };
}
