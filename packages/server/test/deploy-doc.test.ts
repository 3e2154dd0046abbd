/**
 * docs/deploy.md shows the HAProxy configuration the cluster test and the
 * nodes benchmark run: the same text, apart from the addresses and the
 * tests' faster health checks.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { haproxyConfig } from "./support/cluster.ts";

test("docs/deploy.md shows the HAProxy configuration the tests use", () => {
  const doc = readFileSync(new URL("../../../docs/deploy.md", import.meta.url), "utf8");
  const block = /```haproxy\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, "docs/deploy.md has a ```haproxy block");
  assert.equal(block, haproxyConfig("0.0.0.0:8200", ["10.0.0.11:8200", "10.0.0.12:8200", "10.0.0.13:8200"], 1000));
});
