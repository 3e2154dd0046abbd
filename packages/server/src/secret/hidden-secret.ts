/**
 * A hidden secret looks missing — or, to a caller who cannot list every
 * name, both look forbidden. The compatibility APIs answer like the systems
 * they imitate (Vault: 403 for a path no policy covers, existing or not):
 * a caller who sees only the secrets granted to it gets ACCESS_DENIED for a
 * hidden and a missing secret alike, so the answer tells it nothing; a caller
 * who sees every name of the namespace learns that the secret is missing.
 */
import { CofferError } from "../core/errors.ts";
import { denied } from "../identity/access.ts";
import type { SecretContext, SecretService } from "./secret.service.ts";

/** A `.catch` handler: SECRET_NOT_FOUND becomes ACCESS_DENIED (with `message`) unless the caller sees every name; other errors pass. */
export function missingLooksDenied(secrets: Pick<SecretService, "seesEveryName">, ctx: SecretContext, ref: string, message?: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof CofferError && error.code === "SECRET_NOT_FOUND" && !secrets.seesEveryName(ctx, ref)) throw denied(message);
    throw error;
  };
}
