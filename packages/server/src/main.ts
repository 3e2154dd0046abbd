/**
 * `coffer server`: opens the core, builds the app, listens, and shuts down
 * cleanly on SIGINT/SIGTERM.
 */
import { openCoffer } from "./coffer.ts";
import { buildApp } from "./http/app.ts";
import type { RateLimitSettings } from "./limits/rate-limits.ts";

export interface ServerOptions {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string | undefined;
  rootKey?: string | undefined;
  redisUrl?: string | undefined;
  redisPrefix?: string | undefined;
  rateLimits?: RateLimitSettings | undefined;
  logLevel: string;
  /** Where start-up messages go; the bootstrap token goes here and nowhere else. */
  print: (line: string) => void;
}

export async function runServer(options: ServerOptions): Promise<{ url: string; close: () => Promise<void> }> {
  const coffer = await openCoffer({
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    rootKey: options.rootKey,
    redisUrl: options.redisUrl,
    redisPrefix: options.redisPrefix,
    rateLimits: options.rateLimits,
    log: (message) => options.print(`coffer: ${message}`),
  });
  const app = await buildApp(coffer, { logger: { level: options.logLevel } });
  let url: string;
  try {
    url = await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await coffer.close();
    throw error;
  }
  const print = options.print;
  print(`Coffer ${url}`);
  print(`  store     ${coffer.store.dialect.kind} (${coffer.store.location})`);
  print(`  root key  ${coffer.rootKeySource}`);
  const { readsPerSecond, writesPerSecond } = coffer.limits.defaults;
  print(`  limits    ${readsPerSecond} reads/s, ${writesPerSecond} writes/s per token by default; counted in ${coffer.limits.description}`);
  if (coffer.bootstrapToken) {
    print("");
    print("  The store was initialised. Admin bootstrap token (shown ONCE, never again):");
    print("");
    print(`      ${coffer.bootstrapToken}`);
    print("");
    print("  Keep it somewhere safe, e.g.  export COFFER_TOKEN=<token>");
    print("  Anyone with it can read every secret in the 'default' workspace.");
    print("");
  }
  print(`Listening on ${url} (Ctrl-C to stop)`);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await coffer.close();
    })());
  return { url, close };
}
