import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { Coffer, CofferError } from "../src/index.ts";

test("the SDK signs and verifies with an HMAC secret, sets rotation defaults and lists what is due", async (t) => {
  const target = await STORES[0]!.open(t);
  const server = await startServer(t, target!);
  const coffer = new Coffer({ addr: server.url, token: server.token!, workspace: "default" });

  const key = (await coffer.secrets.create("webhook-key", undefined, { type: "HMAC", rotationIntervalDays: 30, autoRotate: true })).data.value!;
  const { signature, version } = await coffer.secrets.sign("webhook-key", "payload");
  assert.equal(signature, `v1:${createHmac("sha256", key).update("payload").digest("base64url")}`);
  assert.equal(version, 1);
  assert.deepEqual(await coffer.secrets.verify("webhook-key", "payload", signature), { valid: true, version: 1 });
  assert.deepEqual(await coffer.secrets.verify("webhook-key", "other", signature), { valid: false, version: 1 });
  const bytes = Buffer.from("raw bytes").toString("base64");
  const signedBytes = await coffer.secrets.sign("webhook-key", bytes, { encoding: "base64" });
  assert.equal(signedBytes.signature, signature.replace(/:.*/, ":") + createHmac("sha256", key).update("raw bytes").digest("base64url"));

  await coffer.secrets.create("plain", { v: "1" });
  await assert.rejects(coffer.secrets.sign("plain", "payload"), (error: unknown) => error instanceof CofferError && error.code === "INVALID_SECRET_TYPE");

  assert.deepEqual(await coffer.setRotationDefaults([{ label: "production", intervalDays: 1 }]), { defaults: [{ label: "production", intervalDays: 1 }], graceDays: 7 });
  assert.deepEqual((await coffer.rotationDefaults()).defaults, [{ label: "production", intervalDays: 1 }]);
  const prod = await coffer.secrets.update("prod-db", { password: "x" }, { label: "production" });
  assert.equal(prod.rotation?.intervalDays, 1);
  // A real clock: nothing is due yet (see the server's rotation tests for the simulated one).
  assert.deepEqual(await coffer.secrets.due(), []);
});
