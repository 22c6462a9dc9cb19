import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS; its default export arrives wrapped under native ESM.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const shared: Options = { allErrors: false, useDefaults: true, removeAdditional: true };

/**
 * Query strings and path parameters arrive as text and are coerced to their schema types;
 * JSON bodies are not coerced, so `{"content": 123}` is a wrongly typed field (422)
 * rather than silently becoming "123".
 */
export function createValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const coercing = addFormats(new Ajv({ ...shared, coerceTypes: 'array' }));
  const strict = addFormats(new Ajv({ ...shared, coerceTypes: false }));
  return ({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema as object) as ReturnType<
      FastifySchemaCompiler<FastifySchema>
    >;
}
