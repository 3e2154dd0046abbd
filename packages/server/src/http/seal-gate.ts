/**
 * While the keyring is sealed, every route answers SEALED (503) before
 * authentication, except those marked `config: { whileSealed: true }`:
 * health, seal status, init and unseal. The check is one field read, so the
 * read path pays nothing for it.
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
  app.addHook("onRequest", async (request) => {
    if (keys.sealed && !request.routeOptions.config.whileSealed) throw sealedError(seal.status());
  });
}
