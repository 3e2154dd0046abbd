/**
 * Whether the server holds its keys. A key-file or COFFER_ROOT_KEY server is
 * never sealed; a Shamir-share server starts sealed and needs `threshold`
 * shares before it can open a secret.
 */
import { CofferError } from "../core/errors.ts";

export interface SealStatus {
  sealed: boolean;
  /** Where the root key comes from: "shamir" shares, the key "file", or the "env" variable. */
  type: "shamir" | "file" | "env";
  initialized: boolean;
  threshold: number;
  shares: number;
  /** Shares received so far towards the next unseal. */
  progress: number;
}

export interface SealControl {
  status(): SealStatus;
  /** Takes one share; unseals once `threshold` distinct valid shares have arrived. */
  unseal(share: string): Promise<SealStatus>;
  /** Drops every key and decrypted value from memory. */
  seal(): Promise<void>;
}

/** The key-file and env providers: always unsealed, nothing to unseal with. */
export function alwaysUnsealed(type: "file" | "env"): SealControl {
  const refuse = (): never => {
    throw new CofferError("INVALID_REQUEST", `this server's root key comes from the ${type === "file" ? "key file" : "COFFER_ROOT_KEY variable"}; it is never sealed`);
  };
  return {
    status: () => ({ sealed: false, type, initialized: true, threshold: 1, shares: 1, progress: 0 }),
    unseal: async () => refuse(),
    seal: async () => refuse(),
  };
}
