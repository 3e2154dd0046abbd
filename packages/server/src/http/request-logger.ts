/**
 * Fastify gives every request a child of the server's logger that carries
 * its request id. Making one (pino's child() serialises the bindings into a
 * new logger object) costs more than the read path's access check, yet with
 * per-request logging off (app.ts) almost no request writes a line. So each
 * request gets this stand-in instead, which makes the real child the first
 * time the request logs at a level that is written: the same lines, with the
 * same fields, only when there are any.
 */
import type { FastifyBaseLogger } from "fastify";

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";
type Bindings = Parameters<FastifyBaseLogger["child"]>[0];
type ChildOptions = NonNullable<Parameters<FastifyBaseLogger["child"]>[1]>;
/** Pino's loggers have isLevelEnabled; Fastify's stand-in for no logger at all does not. */
type ParentLogger = FastifyBaseLogger & { isLevelEnabled?(level: string): boolean };

class RequestLogger {
  #parent: Required<ParentLogger>;
  #bindings: Bindings;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: Required<ParentLogger>, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  get level(): string {
    return (this.#child ?? this.#parent).level;
  }

  set level(level: string) {
    this.#real().level = level;
  }

  #log(level: Level, args: unknown[]): void {
    if (this.#child === undefined && !this.#parent.isLevelEnabled(level)) return;
    (this.#real()[level] as (...args: unknown[]) => void)(...args);
  }

  #real(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings));
  }

  fatal(...args: unknown[]): void {
    this.#log("fatal", args);
  }
  error(...args: unknown[]): void {
    this.#log("error", args);
  }
  warn(...args: unknown[]): void {
    this.#log("warn", args);
  }
  info(...args: unknown[]): void {
    this.#log("info", args);
  }
  debug(...args: unknown[]): void {
    this.#log("debug", args);
  }
  trace(...args: unknown[]): void {
    this.#log("trace", args);
  }
  silent(): void {}

  isLevelEnabled(level: string): boolean {
    return this.#parent.isLevelEnabled(level);
  }

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }
}

/**
 * Fastify's childLoggerFactory. A route with its own log level or
 * serializers gets a real child at once (the stand-in knows only its
 * parent's), and so does a server without a logger (whose child is itself).
 */
export function requestLogger(logger: ParentLogger, bindings: Bindings, options: ChildOptions): FastifyBaseLogger {
  if (options.level !== undefined || options.serializers !== undefined || logger.isLevelEnabled === undefined) return logger.child(bindings, options);
  return new RequestLogger(logger as Required<ParentLogger>, bindings) as unknown as FastifyBaseLogger;
}

/**
 * The childLoggerFactory of a Fastify whose own logger is off (app.ts): each
 * request logs through `parent` as above, whatever logger Fastify hands in.
 */
export function requestLoggerOf(parent: ParentLogger): (logger: ParentLogger, bindings: Bindings, options: ChildOptions) => FastifyBaseLogger {
  return (_fastifyLogger, bindings, options) => requestLogger(parent, bindings, options);
}
