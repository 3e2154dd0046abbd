/** The one-line messages the CLI prints for the server's error codes. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CofferError } from "@coffer/sdk";
import { EXIT } from "../src/cli-error.ts";
import { toCliError } from "../src/client.ts";

test("a 429 the SDK could not wait out says what was limited, that it was retried, and how to raise the limit", () => {
  const server = "too many reads: workspace 'default' allows 20 reads/s per token and 200/s in all; retry after 1 s";
  const error = toCliError(new CofferError("RATE_LIMITED", server, 429, "req_1"));
  assert.equal(
    error.message,
    `rate limited by the server, still after retrying: ${server}. A workspace admin can raise the limits (rateLimits in the workspace settings) (RATE_LIMITED)`,
  );
  assert.equal(error.exitCode, EXIT.failure);
  const login = toCliError(new CofferError("RATE_LIMITED", "too many failed logins; retry after 4 s", 429, "req_2"));
  assert.equal(login.message, "login refused for now: too many failed logins; retry after 4 s (RATE_LIMITED)");
  const timed = toCliError(new CofferError("RATE_LIMITED", "too many failed logins; retry after 4 s", 429, "req_3", 4));
  assert.equal(timed.message, "login refused for now: too many failed logins; try again in 4 s (RATE_LIMITED)", "Retry-After, said once");
});
