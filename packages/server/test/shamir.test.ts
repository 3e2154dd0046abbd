import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Keyring, KeyringSealedError, RootKeyMismatchError } from "../src/crypto/keyring.ts";
import { combineShares, decodeShare, InvalidShareError, newShareSet, splitRootKey } from "../src/crypto/shamir.ts";

test("any threshold of the shares rebuilds the root key; fewer rebuild something else", async () => {
  const root = randomBytes(32);
  const shares = await splitRootKey(root, 5, 3, newShareSet());
  const decoded = shares.map(decodeShare);
  for (const pick of [[0, 1, 2], [4, 2, 0], [1, 3, 4], [0, 1, 2, 3, 4]]) {
    assert.ok((await combineShares(pick.map((i) => decoded[i]!))).equals(root), `shares ${pick}`);
  }
  assert.ok(!(await combineShares([decoded[0]!, decoded[1]!])).equals(root));
  assert.equal(new Set(decoded.map((share) => share.x)).size, 5, "distinct x coordinates");
  assert.equal(new Set(decoded.map((share) => share.set)).size, 1);
});

test("a share survives copying with spaces and line breaks; any changed character is caught by its checksum", async () => {
  const [share] = await splitRootKey(randomBytes(32), 2, 2, newShareSet());
  const body = share!.slice(4);
  assert.deepEqual(decodeShare(`  cfs_${body.slice(0, 20)}\n${body.slice(20)} `).bytes, decodeShare(share!).bytes);
  for (let i = 4; i < share!.length; i++) {
    const changed = share!.slice(0, i) + (share![i] === "x" ? "y" : "x") + share!.slice(i + 1);
    assert.throws(() => decodeShare(changed), InvalidShareError, `character ${i}`);
  }
  assert.throws(() => decodeShare(share!.slice(0, -2)), InvalidShareError);
  assert.throws(() => decodeShare("cft_" + body), InvalidShareError);
});

test("splits outside 2 ≤ threshold ≤ shares ≤ 255 are refused", async () => {
  const root = randomBytes(32);
  for (const [n, k] of [[1, 1], [3, 1], [2, 3], [256, 2], [2.5, 2]] as const) {
    await assert.rejects(splitRootKey(root, n, k, newShareSet()), RangeError, `${n}/${k}`);
  }
});

test("a keyring without a root key is sealed: it refuses everything until a key that opens the stored keys unlocks it", () => {
  const root = randomBytes(32);
  const stored = [new Keyring(root).wrapNewDataKey(1)];
  const ring = new Keyring();
  assert.equal(ring.sealed, true);
  assert.throws(() => ring.wrapNewDataKey(2), KeyringSealedError);
  assert.throws(() => ring.sealSecret({ workspaceId: "w", secretId: "s", version: 1 }, Buffer.from("x")), KeyringSealedError);
  assert.throws(() => ring.unlock(randomBytes(32), stored), RootKeyMismatchError);
  assert.equal(ring.sealed, true, "a wrong key leaves it sealed");
  ring.unlock(root, stored);
  const context = { workspaceId: "w", secretId: "s", version: 1 };
  const sealed = ring.sealSecret(context, Buffer.from("value"));
  ring.clear();
  assert.throws(() => ring.openSecret(context, sealed), KeyringSealedError);
  ring.unlock(root, stored);
  assert.equal(ring.openSecret(context, sealed).toString(), "value");

  // Root-key rotation: the same data keys under a new root; the old root opens none of them.
  const next = randomBytes(32);
  const rewrapped = ring.wrapAllUnder(next);
  ring.replaceRootKey(next);
  assert.throws(() => new Keyring(root).load(rewrapped), RootKeyMismatchError);
  assert.throws(() => ring.verifyRoot(stored), RootKeyMismatchError);
  ring.verifyRoot(rewrapped);
  const reopened = new Keyring(next);
  reopened.load(rewrapped);
  assert.equal(reopened.openSecret(context, sealed).toString(), "value");
});
