/** Wire shape of the seal, shared by the server and its clients. */

export interface SealStatus {
  sealed: boolean;
  /** Where the root key comes from: Shamir "shamir" shares, the key "file", or the COFFER_ROOT_KEY "env" variable. */
  type: "shamir" | "file" | "env";
  initialized: boolean;
  /** Shares needed to unseal. */
  threshold: number;
  /** Shares the root key is split into. */
  shares: number;
  /** Shares received so far towards the next unseal. */
  progress: number;
}
