/**
 * A TCP relay that delivers what the server sends `delayMs` late, in order:
 * a node whose link to PostgreSQL is slow (another zone), so a NOTIFY reaches
 * it well after the writing node answered. Queries are slowed the same way.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface SlowLink {
  /** `url` with its host and port replaced by the relay's. */
  url: string;
  close(): Promise<void>;
}

export async function slowLink(url: string, delayMs: number): Promise<SlowLink> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    // Server to client: each chunk after the delay; timers of equal delay fire in order.
    upstream.on("data", (chunk) => setTimeout(() => client.writable && client.write(chunk), delayMs));
    upstream.on("end", () => setTimeout(() => client.end(), delayMs));
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", () => setTimeout(drop, delayMs));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const relayed = new URL(url);
  relayed.hostname = "127.0.0.1";
  relayed.port = String((server.address() as AddressInfo).port);
  return {
    url: relayed.toString(),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
