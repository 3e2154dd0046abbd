/** A durable update: each PUT answered once its new version is on disk. */
import type { Request } from "autocannon";
import { randomBytes } from "node:crypto";
import { SECRETS_PATH } from "../bench-env.ts";
import { bareRoute, throughputRow, type Scenario } from "../scenario.ts";
import { LIST_SECRETS, listName } from "../seed.ts";

export const updates: Scenario = {
  title: "updates",
  async run(env) {
    const prefix = randomBytes(66).toString("base64url");
    let next = 0;
    const body = () => JSON.stringify({ data: { value: prefix + String(next++).padStart(12, "0") } });
    const bytes = Buffer.byteLength(await env.api("PUT", `${SECRETS_PATH}/${encodeURIComponent(listName(0))}`, JSON.parse(body())));
    // Round-robin over the seeded secrets: 64 connections over 150 rows rarely meet on one row, so this measures writes, not retries.
    const coffer = {
      options: {
        url: env.coffer.url,
        requests: [
          {
            method: "PUT",
            headers: { authorization: `Bearer ${env.token}`, "content-type": "application/json" },
            setupRequest: (request: Request): Request => ({ ...request, path: `${SECRETS_PATH}/${encodeURIComponent(listName(next % LIST_SECRETS))}`, body: body() }),
          },
        ],
      },
      pid: env.coffer.pid,
    };
    return [await throughputRow(env, "update a secret (durable)", coffer, bareRoute(env, bytes, "PUT", body()), { share: 20 })];
  },
};
