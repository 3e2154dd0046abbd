/** A minimal JSON client for black-box tests: status, body and headers, nothing hidden. */
import assert from "node:assert/strict";

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export function client(base: string, token: string | null) {
  return async function request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const response = await fetch(base + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // leave it as text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  };
}

export const secretsPath = (workspace: string, name?: string) =>
  `/api/v1/workspaces/${encodeURIComponent(workspace)}/secrets${name === undefined ? "" : "/" + encodeURIComponent(name)}`;

/** The body of a reply that must have `status` (the assertion shows the body otherwise). */
export async function must(reply: Promise<{ status: number; body: any }>, status: number): Promise<any> {
  const got = await reply;
  assert.equal(got.status, status, JSON.stringify(got.body));
  return got.body;
}
