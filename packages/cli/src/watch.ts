/**
 * What `coffer run --watch` watches: the current version of each secret the
 * command was given. The server offers no change feed a client can follow
 * (its notifications are PostgreSQL NOTIFY between nodes and outbound
 * webhooks), so the CLI polls versions at a fixed interval: one metadata read
 * per named secret, or one listing for --all. Polls carry no values; values
 * are read again only when a version moved.
 */
import type { Coffer, SecretScope, SecretSummary } from "@coffer/sdk";

/** The secrets a command uses: named ones, or every readable one (under a folder). */
export type WatchSource = { names: string[] } | { all: true; prefix: string | undefined };

/** Secret id → its name and current version. */
export type Versions = Map<string, { name: string; version: number }>;

export function versionsOf(secrets: Pick<SecretSummary, "id" | "name" | "version">[]): Versions {
  return new Map(secrets.map(({ id, name, version }) => [id, { name, version }]));
}

export async function currentVersions(coffer: Coffer, source: WatchSource, scope: SecretScope): Promise<Versions> {
  if ("all" in source) return versionsOf(await coffer.secrets.list({ scope, ...(source.prefix ? { prefix: source.prefix } : {}) }));
  const read = await Promise.all([...new Set(source.names)].map((name) => coffer.secrets.metadata(name, { scope })));
  return versionsOf(read.map(({ id, name, currentVersion }) => ({ id, name, version: currentVersion })));
}

/** What moved between two polls, for the message: "API_KEY (version 1 → 2)", "NEW (added)", "OLD (removed)". */
export function changesBetween(before: Versions, after: Versions): string[] {
  const changes: string[] = [];
  for (const [id, now] of after) {
    const was = before.get(id);
    if (!was) changes.push(`${now.name} (added)`);
    else if (was.version !== now.version) changes.push(`${now.name} (version ${was.version} → ${now.version})`);
  }
  for (const [id, was] of before) if (!after.has(id)) changes.push(`${was.name} (removed)`);
  return changes;
}
