/**
 * Dependencies point one way: no module of a package's src/ imports, directly
 * or through others, a module that imports it. Type-only imports count too — a
 * type that travels in a circle ties the modules as tightly as a value does.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { tempDir } from "./support/stores.ts";

const PACKAGES = resolve(import.meta.dirname, "../..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Each module's relative imports (import, import type, export … from, import()), as absolute paths. */
function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(root)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    graph.set(file, importedFiles.filter((spec) => spec.fileName.startsWith(".")).map((spec) => resolve(dirname(file), spec.fileName)));
  }
  return graph;
}

/** Every cycle's modules, one list per strongly connected component (Tarjan), each in import order from its first module. */
function importCycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (module: string): void => {
    index.set(module, counter);
    low.set(module, counter++);
    stack.push(module);
    onStack.add(module);
    for (const next of graph.get(module) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(module, Math.min(low.get(module)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(module, Math.min(low.get(module)!, index.get(next)!));
      }
    }
    if (low.get(module) !== index.get(module)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== module);
    const selfImport = graph.get(module)!.includes(module);
    if (component.length > 1 || selfImport) cycles.push(component.reverse());
  };
  for (const module of graph.keys()) if (!index.has(module)) visit(module);
  return cycles;
}

function describe(root: string, cycles: string[][]): string[] {
  return cycles.map((cycle) => cycle.map((module) => relative(root, module)).join(" → "));
}

for (const pkg of ["server", "protocol", "sdk", "cli", "web"]) {
  test(`the modules of packages/${pkg}/src import each other without a cycle`, () => {
    const root = join(PACKAGES, pkg, "src");
    const graph = importGraph(root);
    assert.ok(graph.size > 0, `found the modules of ${root}`);
    assert.deepEqual(describe(root, importCycles(graph)), []);
  });
}

test("a cycle through a type-only import, an export-from or a dynamic import is found", (t) => {
  const root = tempDir("cycles");
  mkdirSync(join(root, "a"));
  mkdirSync(join(root, "b"));
  writeFileSync(join(root, "a/one.ts"), 'import type { Two } from "../b/two.ts";\nexport type One = Two;\n');
  writeFileSync(join(root, "b/two.ts"), 'export { three } from "./three.ts";\nexport type Two = string;\n');
  writeFileSync(join(root, "b/three.ts"), 'export async function three() { return import("../a/one.ts"); }\n');
  writeFileSync(join(root, "leaf.ts"), 'import "./a/one.ts";\n');
  writeFileSync(join(root, "self.ts"), 'export * from "./self.ts";\n');
  const found = describe(root, importCycles(importGraph(root))).sort();
  assert.deepEqual(found, ["a/one.ts → b/two.ts → b/three.ts", "self.ts"]);
});
