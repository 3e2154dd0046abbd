export { openCoffer, type Coffer, type CofferOptions } from "./coffer.ts";
export { buildApp, VERSION } from "./http/app.ts";
export { runServer, type ServerOptions } from "./main.ts";
export { restoreBackup, RestoreError, type RestoreOptions, type RestoreProgress } from "./backup/restore.ts";
export { LOG_FORMATS, type LogFormat } from "./http/log-format.ts";
export { parseRateLimits } from "./limits/rate-limits.ts";
export { migrateStore, MigrateError, type MigrateStoreOptions, type MigrateProgress, type MigrateReport } from "./backup/migrate-store.ts";
