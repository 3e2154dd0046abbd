export * from "./errors.ts";
export * from "./secrets.ts";
