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

export function sendError(reply: FastifyReply, request: FastifyRequest, error: CofferError): void {
  const body: ErrorBody = { error: { code: error.code, message: error.message, requestId: request.id } };
  reply.code(error.status).headers(error.headers).type("application/json").send(body);
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
