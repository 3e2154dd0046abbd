/** The hot path: an authorised, audited read of one secret, and what it is compared with. */
import { SECRETS_PATH } from "../bench-env.ts";
import { bareRoute, responseBytes, throughputRow, type Scenario } from "../scenario.ts";

import { READ_SECRET } from "../seed.ts";

export const reads: Scenario = {
  title: "reads",
  async run(env) {
    const path = `${SECRETS_PATH}/${READ_SECRET}`;
    const auth = { authorization: `Bearer ${env.token}` };
    const read = { options: { url: env.coffer.url + path, headers: auth }, pid: env.coffer.pid };
    const bytes = await responseBytes(env, path);
    return [
      await throughputRow(env, "read one secret, audited", read, bareRoute(env, bytes), { share: 70, p99Factor: 2 }),
      await throughputRow(env, "read, audited ÷ audit off (bare: --audit off)", read, { options: { url: env.unaudited.url + path, headers: auth }, pid: env.unaudited.pid }, { share: 80 }),
      await throughputRow(
        env,
        "read as a member via group grant (bare: as admin)",
        { options: { url: env.coffer.url + path, headers: { authorization: `Bearer ${env.memberToken}` } }, pid: env.coffer.pid },
        read,
        { share: 90 },
      ),
      await throughputRow(
        env,
        "read Vault-style /v1/secret/data (bare: native)",
        { options: { url: `${env.coffer.url}/v1/secret/data/${READ_SECRET}`, headers: { "x-vault-token": env.token } }, pid: env.coffer.pid },
        read,
        { share: 90 },
      ),
    ];
  },
};
