export * from "./errors.ts";
export * from "./secrets.ts";
export * from "./seal.ts";
export * from "./members.ts";
export * from "./audit.ts";
export * from "./relay.ts";
export * from "./env.ts";
export * from "./approvals.ts";
