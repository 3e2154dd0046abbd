#!/usr/bin/env node
// The `coffer` command. Coffer runs on Node 24 or newer; where the node on
// PATH is older, this re-runs itself with the Node 24 the project installs
// from the npm registry (the `node` package), so no hand steps are needed.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major >= 24) {
  await import("../src/main.ts");
} else {
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
