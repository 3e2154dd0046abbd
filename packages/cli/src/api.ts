/**
 * The CLI's connection to a server: address and token from flags or the
 * environment, JSON in and out, and Coffer's error codes mapped to exit codes.
 */
import type { ErrorBody, ErrorCode } from "@coffer/protocol";
import { CliError, EXIT } from "./cli-error.ts";

export interface Connection {
  addr: string;
  token: string | undefined;
}

export function connectionFrom(addr: string | undefined): Connection {
  return { addr: (addr ?? process.env.COFFER_ADDR ?? "http://127.0.0.1:8200").replace(/\/+$/, ""), token: process.env.COFFER_TOKEN };
}

const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: EXIT.unauthenticated,
  ACCESS_DENIED: EXIT.denied,
  NOT_FOUND: EXIT.notFound,
  SECRET_NOT_FOUND: EXIT.notFound,
  WORKSPACE_NOT_FOUND: EXIT.notFound,
  VERSION_NOT_FOUND: EXIT.notFound,
  VERSION_CONFLICT: EXIT.conflict,
  SECRET_ALREADY_EXISTS: EXIT.conflict,
  SEALED: EXIT.unavailable,
  INVALID_REQUEST: EXIT.usage,
};

export async function call<T>(connection: Connection, method: string, path: string, body?: unknown): Promise<T> {
  if (!connection.token) throw new CliError("no token: set COFFER_TOKEN (the bootstrap token the server printed on first start)", EXIT.unauthenticated);
  let response: Response;
  try {
    response = await fetch(connection.addr + path, {
      method,
      headers: { authorization: `Bearer ${connection.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new CliError(`cannot reach the server at ${connection.addr} (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message})`, EXIT.unavailable);
  }
  const text = await response.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const { code, message } = (json as ErrorBody | undefined)?.error ?? { code: "INTERNAL" as const, message: `HTTP ${response.status}` };
    throw new CliError(`${message} (${code})`, EXIT_BY_CODE[code] ?? EXIT.failure);
  }
  return json as T;
}
