import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { IntegrityError, keyVersionOf, open, seal } from "../src/crypto/envelope.ts";
import { fillRandom } from "../src/crypto/random-pool.ts";
import { Keyring, RootKeyMismatchError } from "../src/crypto/keyring.ts";
import { generateToken, hashToken, isWellFormedToken } from "../src/crypto/tokens.ts";
import { inspect } from "node:util";

const context = { workspaceId: "ws_1", secretId: "sec_1", version: 1 };

function keyring(root = randomBytes(32)): Keyring {
  const ring = new Keyring(root);
  ring.load([ring.wrapNewDataKey(1)]);
  return ring;
}

test("a sealed value opens with its key and context", () => {
  const key = randomBytes(32);
  const sealed = seal(key, 7, Buffer.from("hello"), "ctx");
  assert.equal(keyVersionOf(sealed), 7);
  assert.equal(open(key, sealed, "ctx").toString(), "hello");
});

test("every seal uses a fresh nonce, so equal values never give equal ciphertexts", () => {
  const key = randomBytes(32);
  const seen = new Set<string>();
  // Nonces come from a pool refilled every 341 of them: these cross many refills.
  for (let i = 0; i < 10_000; i++) seen.add(seal(key, 1, Buffer.from("same"), "ctx").subarray(5, 17).toString("hex"));
  assert.equal(seen.size, 10_000);
});

test("random bytes from the pool fill only the range asked for, are never handed out twice, and any size works", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const out = Buffer.alloc(20, 0xaa);
    fillRandom(out, 3, 13 + (i % 4));
    assert.ok(out.subarray(0, 3).every((byte) => byte === 0xaa) && out.subarray(16 + (i % 4)).every((byte) => byte === 0xaa), "bytes outside the range untouched");
    seen.add(out.subarray(3, 16).toString("hex"));
  }
  assert.equal(seen.size, 2000);
  const large = Buffer.alloc(10_000);
  fillRandom(large, 0, large.length);
  assert.ok(new Set(large).size > 200, "a fill larger than the pool is random too");
});

test("a ciphertext does not open under another context, key, or with any byte changed", () => {
  const key = randomBytes(32);
  const sealed = seal(key, 1, Buffer.from("value"), "ctx");
  assert.throws(() => open(key, sealed, "other"), IntegrityError);
  assert.throws(() => open(randomBytes(32), sealed, "ctx"), IntegrityError);
  for (let i = 0; i < sealed.length; i++) {
    const altered = Buffer.from(sealed);
    altered[i]! ^= 0x01;
    assert.throws(() => open(key, altered, "ctx"), `byte ${i}`);
  }
  assert.throws(() => open(key, sealed.subarray(0, 20), "ctx"), IntegrityError);
});

test("a secret's ciphertext moved to another secret or version does not open", () => {
  const ring = keyring();
  const sealed = ring.sealSecret(context, Buffer.from("v"));
  assert.equal(ring.openSecret(context, sealed).toString(), "v");
  assert.throws(() => ring.openSecret({ ...context, secretId: "sec_2" }, sealed), IntegrityError);
  assert.throws(() => ring.openSecret({ ...context, version: 2 }, sealed), IntegrityError);
  assert.throws(() => ring.openSecret({ ...context, workspaceId: "ws_2" }, sealed), IntegrityError);
});

test("a keyring refuses data keys wrapped under another root key", () => {
  const stored = new Keyring(randomBytes(32)).wrapNewDataKey(1);
  assert.throws(() => new Keyring(randomBytes(32)).load([stored]), RootKeyMismatchError);
});

test("after rotation new writes use the newest key and old ciphertexts still open", () => {
  const ring = keyring();
  const old = ring.sealSecret(context, Buffer.from("old"));
  ring.load([ring.wrapNewDataKey(2)]);
  const fresh = ring.sealSecret(context, Buffer.from("new"));
  assert.equal(keyVersionOf(old), 1);
  assert.equal(keyVersionOf(fresh), 2);
  assert.equal(ring.openSecret(context, old).toString(), "old");
});

test("key material is invisible to inspect and JSON", () => {
  const root = randomBytes(32);
  const ring = keyring(root);
  const shown = inspect(ring, { depth: 10, showHidden: true }) + JSON.stringify(ring);
  assert.ok(!shown.includes(root.toString("hex").slice(0, 16)));
  assert.ok(!/[0-9a-f]{2}( [0-9a-f]{2}){15}/.test(shown), "no buffer bytes printed");
});

test("tokens carry a prefix and checksum, and a typo fails the checksum", () => {
  const token = generateToken("cft_");
  assert.match(token, /^cft_[0-9A-Za-z]{49}$/);
  assert.ok(isWellFormedToken(token, "cft_"));
  assert.ok(!isWellFormedToken(token, "cfk_"));
  const typo = token.slice(0, 10) + (token[10] === "a" ? "b" : "a") + token.slice(11);
  assert.ok(!isWellFormedToken(typo, "cft_"));
  assert.equal(hashToken(token).length, 64);
  assert.notEqual(generateToken("cft_"), token);
});
