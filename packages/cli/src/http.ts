/**
 * A small `fetch` for the SDK, built on node:http(s).
 *
 * Node's global fetch (undici) costs ~60 ms the first time a process calls
 * it, more than starting Node itself costs; a CLI that makes one request and
 * exits pays that on every run (`coffer run -- true` has a budget of 3× a
 * bare `node -e ''`). node:http is already in Node's startup snapshot. The
 * SDK accepts any `fetch`; this one does what the SDK needs: method, headers,
 * a string body, and a response with status, headers (get, forEach), text(),
 * and a streamed body for answers too large to hold (a backup) or that
 * arrive over time (a relayed stream).
 */
import type { IncomingMessage, RequestOptions } from "node:http";

/** No answer within this long (connecting included) fails the request. */
const TIMEOUT_MS = 30_000;

interface MinimalResponse {
  ok: boolean;
  status: number;
  statusText: string;
  headers: { get(name: string): string | null; forEach(fn: (value: string, name: string) => void): void };
  text(): Promise<string>;
  readonly body: ReadableStream<Uint8Array>;
}

export const httpFetch = (async (input: string | URL | Request, init: RequestInit = {}): Promise<MinimalResponse> => {
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  // getBuiltinModule, not import(): the ESM namespace of node:http reads every export, and its
  // lazy WebSocket export loads undici, the very cost this module avoids (~20 ms).
  const { request } = url.protocol === "https:" ? process.getBuiltinModule("node:https") : process.getBuiltinModule("node:http");
  const body = init.body === undefined || init.body === null ? undefined : String(init.body);
  const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
  if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
  const options: RequestOptions = { method: init.method ?? "GET", headers, agent: false, timeout: TIMEOUT_MS };
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, options, resolve);
    req.on("error", reject);
    req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${TIMEOUT_MS / 1000} s`), { code: "ETIMEDOUT" })));
    req.end(body);
  });
  const status = response.statusCode ?? 0;
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: response.statusMessage ?? "",
    headers: {
      get: (name) => {
        const value = response.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
      forEach: (fn) => {
        for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) fn(Array.isArray(value) ? value.join(", ") : value, name);
      },
    },
    text: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
    get body() {
      return process.getBuiltinModule("node:stream").Readable.toWeb(response) as ReadableStream<Uint8Array>;
    },
  };
}) as unknown as typeof fetch;
