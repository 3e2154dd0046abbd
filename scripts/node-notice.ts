/**
 * Run by `npm install` (prepare): when npm itself runs on a Node older than
 * 24, says once what happened, in place of the EBADENGINE warnings that
 * .npmrc (loglevel=error) keeps npm from printing. Silent on Node 24 and newer.
 */
const REQUIRED_MAJOR = 24;

/** The Node that runs npm, from npm's user agent ("npm/11.6.0 node/v20.20.2 linux x64 …"). */
export function npmNodeVersion(userAgent: string | undefined): string | null {
  return /\bnode\/(v\d+\.\d+\.\d+)\b/.exec(userAgent ?? "")?.[1] ?? null;
}

/**
 * The note for an npm on an older Node; null on Node 24 or newer. `runningNode` is the Node running this
 * script: npm scripts put node_modules/.bin first on PATH, so it is the provisioned one (a TypeScript file
 * cannot run on an older Node at all).
 */
export function notice(npmNode: string | null, runningNode: string): string | null {
  if (!npmNode || Number(/^v(\d+)/.exec(npmNode)?.[1]) >= REQUIRED_MAJOR) return null;
  return (
    `Note: npm runs on Node ${npmNode} here and Coffer needs Node ${REQUIRED_MAJOR}, so npm installed Node ${runningNode} ` +
    `from the npm registry into node_modules/node (a dev dependency; nothing outside this directory changed). ` +
    `npm start, npm test and npx coffer run on it; npm's warnings about engine versions are hidden (.npmrc).`
  );
}

if (import.meta.main) {
  const text = notice(npmNodeVersion(process.env.npm_config_user_agent), process.version);
  if (text) process.stdout.write(text + "\n");
}
