export { openCoffer, type Coffer, type CofferOptions } from "./coffer.ts";
export { buildApp, VERSION } from "./http/app.ts";
export { runServer, type ServerOptions } from "./main.ts";
export { parseRateLimits } from "./limits/rate-limits.ts";
