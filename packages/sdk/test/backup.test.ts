import assert from "node:assert/strict";
import { test } from "node:test";
import { startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { Coffer, CofferError } from "../src/index.ts";

test("backup() streams the backup file to an administrator and is ACCESS_DENIED to anyone else", async (t) => {
  const server = await startServer(t, (await STORES[0]!.open(t))!);
  const admin = new Coffer({ addr: server.url, token: server.token! });
  await admin.secrets.create("sdk-backup", { value: "sdk-backup-canary" });
  const { body, tables, rows } = await admin.backup();
  assert.ok(tables > 5 && rows > 5, `${tables} tables, ${rows} rows`);
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  const file = Buffer.concat(parts);
  assert.equal(file.subarray(0, 8).toString("ascii"), "COFFERBK");
  assert.ok(!file.toString("latin1").includes("sdk-backup"), "nothing readable in it");

  const { token } = await admin.call<{ token: string }>("createToken", {}, { body: { name: "read-only", access: "read" } });
  await assert.rejects(new Coffer({ addr: server.url, token }).backup(), (error: unknown) => error instanceof CofferError && error.code === "ACCESS_DENIED" && error.status === 403);
});
