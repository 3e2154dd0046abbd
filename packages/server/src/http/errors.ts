/**
 * Errors → JSON. Fastify's default handler sends error.message verbatim, 500s
 * included, so a driver error would leak schema details; this one exposes
 * only Coffer's coded errors and validation messages (which name fields,
 * never values) and turns everything else into INTERNAL with a request id.
 */
import type { ErrorBody, ErrorCode } from "@coffer/protocol";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { CofferError } from "../core/errors.ts";

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(reply, request, cofferErrorOf(error, request)));
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, request, new CofferError("NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`));
  });
}

/** An error as one API shows it (the native API, Vault's, Vellum's): its status and body. */
export type ErrorShape = (error: CofferError, requestId: string) => { status: number; body: unknown };

export const nativeErrorShape: ErrorShape = (error, requestId) => {
  const body: ErrorBody = { error: { code: error.code, message: error.message, requestId } };
  return { status: error.status, body };
};

export function sendError(reply: FastifyReply, request: FastifyRequest, error: CofferError, shape: ErrorShape = nativeErrorShape): void {
  const { status, body } = shape(error, request.id);
  reply.code(status).headers(error.headers).type("application/json").send(body);
}

/**
 * The JSON body parser of every API: an empty body is no body, and a body
 * refused only for a `__proto__` or `constructor.prototype` key (which could
 * reach an object's prototype) says so rather than "not valid JSON".
 */
export function jsonBodyParser(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser("error", "error");
  return (request: FastifyRequest, body: string | Buffer, done: (error: Error | null, value?: unknown) => void): void => {
    const text = body as string;
    if (text === "") return done(null, undefined);
    parse(request, text, (error: Error | null, value?: unknown) => (error && isJson(text) ? done(forbiddenKey(), undefined) : done(error, value)));
  };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function forbiddenKey(): CofferError {
  return new CofferError("INVALID_REQUEST", 'the request body has a "__proto__" or "constructor.prototype" key, which is refused');
}

/** What a client may learn of any error (compatibility APIs render it in their own shapes); unexpected ones are logged. */
export function cofferErrorOf(error: FastifyError, request: FastifyRequest): CofferError {
  const coffer = toCofferError(error);
  if (coffer.code === "INTERNAL" || coffer.code === "INTEGRITY_ERROR") {
    request.log.error({ err: loggable(error), requestId: request.id }, "request failed");
  }
  return coffer;
}

function toCofferError(error: FastifyError): CofferError {
  if (error instanceof CofferError) return error;
  if (error.validation) {
    const first = error.validation[0];
    const where = `${error.validationContext ?? "request"}${first?.instancePath ?? ""}`;
    return new CofferError("INVALID_REQUEST", `${where} ${first?.message ?? "is invalid"}`);
  }
  const byFastifyCode: Record<string, [ErrorCode, string]> = {
    FST_ERR_CTP_INVALID_JSON_BODY: ["INVALID_REQUEST", "the request body is not valid JSON"],
    FST_ERR_CTP_EMPTY_JSON_BODY: ["INVALID_REQUEST", "the request body is empty; send a JSON object"],
    FST_ERR_CTP_BODY_TOO_LARGE: ["PAYLOAD_TOO_LARGE", "the request body is too large"],
    FST_ERR_CTP_INVALID_MEDIA_TYPE: ["UNSUPPORTED_MEDIA_TYPE", "send the request body as application/json"],
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: ["INVALID_REQUEST", "the Content-Length header does not match the body"],
  };
  const known = error.code ? byFastifyCode[error.code] : undefined;
  if (known) return new CofferError(known[0], known[1]);
  // A JSON syntax error's message quotes the input, which may be a value.
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return new CofferError("INVALID_REQUEST", "the request could not be parsed");
  }
  return new CofferError("INTERNAL", "an internal error occurred; the request id identifies it in the server log");
}

/** What the log keeps of an unexpected error: never a message that may quote input. */
function loggable(error: Error): Record<string, unknown> {
  const quotesInput = error instanceof SyntaxError;
  return {
    name: error.name,
    code: (error as FastifyError).code,
    message: quotesInput ? "(omitted)" : error.message,
    stack: quotesInput ? undefined : error.stack,
  };
}
