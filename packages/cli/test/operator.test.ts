/**
 * coffer operator init | unseal | seal | seal-status | rekey | rotate-root-key
 * against a real `coffer server --seal shamir`; shares are typed at hidden
 * prompts on a real pseudo-terminal, or piped in.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { startServer } from "../../server/test/support/server.ts";
import { STORES } from "../../server/test/support/stores.ts";
import { ok, run, runPty, tempDir } from "./support/cli.ts";

const SHARE = /^ {2}Share \d+: (cfs_[A-Za-z0-9_-]+)$/gm;

function sharesIn(output: string): string[] {
  return [...output.matchAll(SHARE)].map((match) => match[1]!);
}

test("every operator task explains itself with --help and an example", async () => {
  const tasks = ["rotate-key", "key-status", "init", "unseal", "seal", "seal-status", "rekey", "rotate-root-key"];
  const results = await Promise.all(tasks.map((task) => run(["operator", task, "--help"])));
  results.forEach((result, i) => {
    assert.equal(result.code, 0, `${tasks[i]}: ${result.stderr}`);
    assert.match(result.stdout, new RegExp(`Usage: coffer operator ${tasks[i]}`));
    assert.match(result.stdout, /Example:/);
  });
  const help = ok(await run(["operator", "--help"])).stdout;
  for (const task of tasks) assert.match(help, new RegExp(`^  ${task} `, "m"));
});

test("a Shamir server: init prints the shares once, unseal takes them at a hidden prompt, seal, rekey and root-key rotation", async (t) => {
  const target = (await STORES[0]!.open(t))!;
  let server = await startServer(t, target, { COFFER_SEAL: "shamir" });
  assert.equal(server.token, null, "no bootstrap token at start: init gives it");
  assert.match(server.output(), /Sealed and not initialised/);
  const env = { COFFER_ADDR: server.url, COFFER_CONFIG_DIR: join(tempDir(), "config") };
  const coffer = (args: string[], options: { input?: string; token?: string } = {}) =>
    run(args, { input: options.input, env: { ...env, COFFER_ADDR: server.url, ...(options.token ? { COFFER_TOKEN: options.token } : {}) } });

  assert.match(ok(await coffer(["operator", "seal-status"])).stdout, /Sealed, not initialised/);
  const missing = await coffer(["operator", "init", "--shares", "3"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--threshold is required/);

  const init = ok(await coffer(["operator", "init", "--shares", "3", "--threshold", "2"]));
  const shares = sharesIn(init.stdout);
  assert.equal(shares.length, 3, init.stdout);
  assert.match(init.stdout, /shown ONCE/);
  const token = /Admin bootstrap token: (cft_\w+)/.exec(init.stdout)?.[1];
  assert.ok(token, init.stdout);
  const again = await coffer(["operator", "init", "--shares", "3", "--threshold", "2"]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /initialised already/);
  assert.doesNotMatch(again.stdout + again.stderr, /cfs_/, "the shares are never shown again");

  // Sealed after init: API calls exit 7 (server unavailable or sealed).
  const sealedRead = await coffer(["secrets", "list"], { token });
  assert.equal(sealedRead.code, 7, sealedRead.stderr);
  assert.match(sealedRead.stderr, /SEALED/);

  // A key holder types a share at a hidden prompt: it never appears on the screen.
  const first = await runPty(["operator", "unseal"], [{ expect: "Unseal share \\(1 of 2\\): ", send: shares[0] + "\r" }], env);
  assert.equal(first.status, 0, first.output);
  assert.ok(!first.output.includes(shares[0]!), `the share was echoed:\n${first.output}`);
  assert.match(first.output, /Sealed \(root key: Shamir shares\): 1 of 2 shares given/);
  const duplicate = await runPty(["operator", "unseal"], [{ expect: "Unseal share \\(2 of 2\\): ", send: shares[0] + "\r" }], env);
  assert.equal(duplicate.status, 2, duplicate.output);
  assert.match(duplicate.output, /given already/);
  const second = await runPty(["operator", "unseal"], [{ expect: "Unseal share \\(2 of 2\\): ", send: shares[2] + "\r" }], env);
  assert.equal(second.status, 0, second.output);
  assert.ok(!second.output.includes(shares[2]!));
  assert.match(second.output, /Unsealed \(root key: Shamir shares, 2 of 3 shares unseal\)/);
  assert.equal(JSON.parse(ok(await coffer(["operator", "seal-status", "--json"])).stdout).sealed, false);

  ok(await coffer(["secrets", "set", "OPENAI_KEY"], { input: "sk-operator\n", token }));
  const noToken = await coffer(["operator", "seal"]);
  assert.equal(noToken.code, 3);
  assert.match(ok(await coffer(["operator", "seal"], { token })).stdout, /Sealed/);
  assert.equal((await coffer(["secrets", "get", "OPENAI_KEY"], { token })).code, 7);

  // Piped: one share per line, until unsealed.
  assert.match(ok(await coffer(["operator", "unseal"], { input: `${shares[1]}\n${shares[2]}\n` })).stdout, /^Unsealed/);
  assert.equal(ok(await coffer(["secrets", "get", "OPENAI_KEY", "value"], { token })).stdout, "sk-operator");

  // Rekey with the current shares piped in: new ones print, the old ones are gone.
  const rekey = ok(await coffer(["operator", "rekey", "--shares", "4", "--threshold", "3"], { input: `${shares[0]}\n${shares[1]}\n`, token }));
  const rekeyed = sharesIn(rekey.stdout);
  assert.equal(rekeyed.length, 4, rekey.stdout);
  assert.ok(!rekey.stdout.includes(shares[0]!));

  // Root-key rotation with the current shares typed at hidden prompts.
  const rotate = await runPty(
    ["operator", "rotate-root-key", "--shares", "2", "--threshold", "2"],
    [
      { expect: "Current share 1 of 3: ", send: rekeyed[0] + "\r" },
      { expect: "Current share 2 of 3: ", send: rekeyed[1] + "\r" },
      { expect: "Current share 3 of 3: ", send: rekeyed[3] + "\r" },
    ],
    { ...env, COFFER_TOKEN: token },
  );
  assert.equal(rotate.status, 0, rotate.output);
  for (const typed of [rekeyed[0]!, rekeyed[1]!, rekeyed[3]!]) assert.ok(!rotate.output.includes(typed), "a typed share was echoed");
  const rotated = sharesIn(rotate.output.replace(/\r/g, ""));
  assert.equal(rotated.length, 2, rotate.output);

  // After a restart: sealed, the rotated shares unseal, the secret is there.
  await server.stop();
  server = await startServer(t, target, { COFFER_SEAL: "shamir" });
  assert.match(server.output(), /sealed {4}unseal with 2 of the 2 shares/);
  const old = await coffer(["operator", "unseal"], { input: `${rekeyed[0]}\n` });
  assert.equal(old.code, 2);
  assert.match(old.stderr, /older split/);
  ok(await coffer(["operator", "unseal"], { input: rotated.join("\n") + "\n" }));
  assert.equal(ok(await coffer(["secrets", "get", "OPENAI_KEY", "value"], { token })).stdout, "sk-operator");
});

test("a key-file server: rotate-root-key rewrites the key file; seal and unseal explain there is nothing to unseal", async (t) => {
  const target = (await STORES[0]!.open(t))!;
  const server = await startServer(t, target);
  const env = { COFFER_ADDR: server.url, COFFER_TOKEN: server.token!, COFFER_CONFIG_DIR: join(tempDir(), "config") };
  ok(await run(["secrets", "set", "KEPT"], { input: "kept\n", env }));
  assert.match(ok(await run(["operator", "rotate-root-key"], { env })).stdout, /Root key rotated: the key file holds the new key/);
  assert.equal(ok(await run(["secrets", "get", "KEPT", "value"], { env })).stdout, "kept");
  assert.match(ok(await run(["operator", "seal-status"], { env })).stdout, /Unsealed \(root key: key file\)/);
  const seal = await run(["operator", "seal"], { env });
  assert.equal(seal.code, 2);
  assert.match(seal.stderr, /never sealed/);
  const split = await run(["operator", "rotate-root-key", "--shares", "3"], { env });
  assert.equal(split.code, 2);
  const rekey = await run(["operator", "rekey", "--shares", "3", "--threshold", "2"], { env });
  assert.equal(rekey.code, 2);
  assert.match(rekey.stderr, /no shares/);
});
