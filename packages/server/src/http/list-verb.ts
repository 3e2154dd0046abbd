/**
 * Vault's LIST verb on Node's HTTP server. Node's parser (llhttp) knows a
 * fixed set of methods and answers LIST with HPE_INVALID_METHOD, a client
 * error of the connection. Every other connection stays exactly as Node runs
 * it (the parser consumes the socket in C++, no JS stream in between); a
 * connection that sends LIST is handed, from that request on, to a second
 * parse over a JS stream whose first request line is rewritten to
 * `GET …?list=true`, which Vault itself treats LIST as. Each later LIST on
 * the connection makes another hand-off from the raw socket, so streams never
 * nest. Responses keep their order: a hand-off starts once every request
 * parsed before it has been answered.
 */
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";

const LIST = Buffer.from("LIST ");
/** llhttp stops at the first byte no method continues with: "LI" could still be LINK, "LIS" is nothing. */
const ERROR_OFFSET = 2;
/** The longest request line taken for rewriting; Node refuses longer header sections anyway. */
const MAX_LINE = 16 * 1024;

interface ParseError extends Error {
  code?: string;
  rawPacket?: Buffer;
  bytesParsed?: number;
}

/** Http's per-socket bookkeeping we read (stable for a decade, and what upgrade handling relies on too). */
type HttpSocket = Duplex & { _httpMessage?: (NodeJS.EventEmitter & { _headerSent?: boolean }) | null };

/**
 * Sockets whose parse ended in a hand-off. Node still counts that parse as a
 * request whose headers never completed, and reports it as timed out after
 * headersTimeout: that request lives on in the hand-off, so the report is
 * ignored rather than answered with a 408 that would close the connection.
 */
const handedOff = new WeakSet<Duplex>();

/** Fastify's clientErrorHandler, first: true when the error was a LIST now handed off (or such a socket's stale timeout), nothing to answer. */
export function tookListVerb(server: Server, failure: Error, socket: Duplex): boolean {
  const error = failure as ParseError;
  if (error.code === "HPE_INVALID_METHOD" && handOff(server, error, socket as HttpSocket)) return true;
  return error.code === "ERR_HTTP_REQUEST_TIMEOUT" && handedOff.has(socket);
}

function handOff(server: Server, error: ParseError, socket: HttpSocket): boolean {
  const packet = error.rawPacket;
  if (!packet || error.bytesParsed === undefined) return false;
  const start = error.bytesParsed - ERROR_OFFSET;
  // When the request line arrived split ("LI" | "ST /…"), the parser already took the first bytes: only "LI" leads to an error at "S".
  const head = start >= 0 ? packet.subarray(start) : Buffer.concat([LIST.subarray(0, -start), packet]);
  const seen = Math.min(head.length, LIST.length);
  if (seen <= ERROR_OFFSET || !head.subarray(0, seen).equals(LIST.subarray(0, seen))) return false;
  const raw = socket instanceof ListConnection ? socket.raw : (socket as unknown as Socket);
  // The failed parse must see no more bytes, nor report the stream's end as another error.
  socket.removeAllListeners("data");
  socket.removeAllListeners("end");
  handedOff.add(socket);
  const pending = [head, ...(socket instanceof ListConnection ? socket.detach() : [])];
  const next = new ListConnection(raw, pending);
  whenAnswered(socket, () => {
    // The previous hand-off has answered everything it parsed: it lets go of the raw socket, so many LISTs leave nothing behind.
    if (socket instanceof ListConnection) socket.retire();
    if (!next.destroyed) server.emit("connection", next);
  });
  return true;
}

/** Calls `then` once the requests parsed on `socket` so far are answered (http assigns the next response before 'finish' listeners run). */
function whenAnswered(socket: HttpSocket, then: () => void): void {
  const busy = socket._httpMessage;
  if (!busy) return then();
  busy.once("finish", () => whenAnswered(socket, then));
}

/** One hand-off: reads the raw socket from a LIST request on, writes to it. */
class ListConnection extends Duplex {
  readonly raw: Socket;
  #head: Buffer | null = Buffer.alloc(0);
  #onData = (chunk: Buffer) => this.#take(chunk);
  #onEnd = () => this.push(null);
  #onClose = () => this.destroy();
  #onTimeout = () => this.emit("timeout");
  #retired = false;

  constructor(raw: Socket, pending: Buffer[]) {
    super({ allowHalfOpen: raw.allowHalfOpen });
    this.raw = raw;
    for (const chunk of pending) this.#take(chunk);
    raw.on("data", this.#onData);
    raw.on("end", this.#onEnd);
    raw.on("close", this.#onClose);
    raw.on("timeout", this.#onTimeout);
  }

  // The http server keeps its idle and keep-alive timeouts through these: a handed-off connection times out like any other.
  setTimeout(ms: number, callback?: () => void): this {
    this.raw.setTimeout(ms);
    if (callback) this.once("timeout", callback);
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.raw.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.raw.setKeepAlive(enable, delay);
    return this;
  }

  get remoteAddress() {
    return this.raw.remoteAddress;
  }
  get remotePort() {
    return this.raw.remotePort;
  }
  get remoteFamily() {
    return this.raw.remoteFamily;
  }
  get localAddress() {
    return this.raw.localAddress;
  }
  get localPort() {
    return this.raw.localPort;
  }

  /** Stops reading the raw socket (a later LIST hands it on) and gives back what was read but not parsed. */
  detach(): Buffer[] {
    this.raw.off("data", this.#onData);
    this.raw.off("end", this.#onEnd);
    this.raw.off("timeout", this.#onTimeout);
    this.pause();
    const unread: Buffer[] = [];
    for (let chunk = this.read() as Buffer | null; chunk !== null; chunk = this.read() as Buffer | null) unread.push(chunk);
    if (this.#head?.length) unread.unshift(this.#head);
    this.#head = null;
    return unread;
  }

  /** Ends this hand-off without touching the raw socket, which a later one now reads. */
  retire(): void {
    this.#retired = true;
    this.raw.off("close", this.#onClose);
    this.destroy();
  }

  /** Rewrites the first request line, then passes bytes through. */
  #take(chunk: Buffer): void {
    if (this.#head === null) return this.#push(chunk);
    const head = Buffer.concat([this.#head, chunk]);
    const end = head.indexOf("\n");
    if (end < 0) {
      if (head.length > MAX_LINE) this.destroy(new Error("request line too long"));
      else this.#head = head;
      return;
    }
    this.#head = null;
    this.#push(Buffer.concat([rewriteListLine(head.subarray(0, end)), head.subarray(end)]));
  }

  #push(chunk: Buffer): void {
    if (!this.push(chunk)) this.raw.pause();
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.raw.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.raw.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.raw.off("close", this.#onClose);
    this.raw.off("timeout", this.#onTimeout);
    if (!this.#retired) this.raw.destroy(error ?? undefined);
    callback(error);
  }
}

/** `LIST /v1/x?a=b HTTP/1.1` → `GET /v1/x?a=b&list=true HTTP/1.1`. */
export function rewriteListLine(line: Buffer): Buffer {
  const text = line.toString("latin1");
  const targetEnd = text.indexOf(" ", LIST.length);
  const target = text.slice(LIST.length, targetEnd < 0 ? undefined : targetEnd);
  const rest = targetEnd < 0 ? "" : text.slice(targetEnd);
  return Buffer.from(`GET ${target}${target.includes("?") ? "&" : "?"}list=true${rest}`, "latin1");
}
