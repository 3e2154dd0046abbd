#!/usr/bin/env node
// The `coffer` command. Coffer runs on Node 24 or newer; where the node on
// PATH is older, this re-runs itself with the Node 24 the project installs
// from the npm registry (the `node` package), so no hand steps are needed.
const major = Number(process.versions.node.split(".")[0]);
if (major >= 24) {
  // Node's compile cache keeps the TypeScript it strips and the code V8
  // compiles: stripping types from the CLI's modules on every run would cost
  // more than starting Node itself. It lives in the user's own cache
  // directory, not a shared temp dir where another local user could plant
  // compiled code (NODE_COMPILE_CACHE moves it, NODE_DISABLE_COMPILE_CACHE=1
  // turns it off). Failing to use it only makes the start slower.
  const { enableCompileCache } = process.getBuiltinModule("node:module");
  const { homedir } = process.getBuiltinModule("node:os");
  const { join } = process.getBuiltinModule("node:path");
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  enableCompileCache?.(process.env.NODE_COMPILE_CACHE || join(cacheHome, "coffer", "node-compile-cache"));
  await import("../src/main.ts");
} else {
  const { spawn } = await import("node:child_process");
  const { createRequire } = await import("node:module");
  const { dirname, join } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  let node;
  try {
    node = join(dirname(createRequire(import.meta.url).resolve("node/package.json")), "bin", "node");
  } catch {
    console.error(`coffer needs Node.js 24 or newer (this is ${process.version}); run 'npm install' in the Coffer checkout to provision it.`);
    process.exit(1);
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => (signal ? process.kill(process.pid, signal) : process.exit(code ?? 1)));
}
