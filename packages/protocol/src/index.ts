export * from "./errors.ts";
export * from "./secrets.ts";
export * from "./seal.ts";
