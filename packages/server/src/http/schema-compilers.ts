/**
 * The schema compilers of every route, compiled on a route's first use.
 * Fastify compiles a validator per request part and a serializer per
 * response status for each of the API's ~300 routes when the app starts:
 * generated code, closures and source text that held a third of an idle
 * server's heap, mostly for routes a given deployment never calls. A route's
 * functions are built by its first request instead, and then kept as
 * Fastify would keep them.
 */
import { Ajv, type ValidateFunction } from "ajv";
import { SerializerSelector, type SerializerFactory } from "@fastify/fast-json-stringify-compiler";
import type { FastifySchemaCompiler } from "fastify";

/**
 * Bodies are validated strictly: a number where a string belongs is an error,
 * not a coerced value. Query strings and path parameters are text on the
 * wire, so their numbers and booleans are coerced.
 */
export function validators(): FastifySchemaCompiler<unknown> {
  const shared = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false } as const;
  let strict: Ajv | undefined;
  let coercing: Ajv | undefined;
  const ajv = (httpPart: string | undefined) =>
    httpPart === "body" ? (strict ??= new Ajv({ ...shared, coerceTypes: false })) : (coercing ??= new Ajv({ ...shared, coerceTypes: "array" }));
  return ({ schema, httpPart }) => {
    let compiled: ValidateFunction | undefined;
    const validate = (data: unknown, context?: object) => {
      compiled ??= ajv(httpPart).compile(schema as object);
      const valid = compiled(data, context as never);
      validate.errors = compiled.errors;
      return valid;
    };
    validate.errors = null as ValidateFunction["errors"];
    // Fastify hands the request part's parent (which lets Ajv coerce or default a whole part) only to a function
    // that carries Ajv's schemaEnv.
    validate.schemaEnv = true;
    return validate;
  };
}

/** Fastify's own serializer compiler (fast-json-stringify), building each response's serializer on first use. */
export const serializers: SerializerFactory = (externalSchemas, options) => {
  const compile = SerializerSelector()(externalSchemas, options);
  return (route) => {
    let serialize: ((data: unknown) => string) | undefined;
    return (data) => (serialize ??= compile(route))(data);
  };
};
