/**
 * While the keyring is sealed, every route answers SEALED (503) before
 * authentication, except those marked `config: { whileSealed: true }`:
 * health, seal status, init and unseal. The check is one field read.
 */
import type { FastifyInstance } from "fastify";
import type { KeyService } from "../keys/keys.service.ts";
import { sealedError, type SealControl } from "../sys/seal.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    whileSealed?: boolean;
  }
}

export function installSealGate(app: FastifyInstance, keys: KeyService, seal: SealControl): void {
  // A callback hook, not an async one: no promise per request on the read path.
  app.addHook("onRequest", (request, _reply, done) => {
    if (keys.sealed && !request.routeConfig.whileSealed) return done(sealedError(seal.status()));
    done();
  });
}
