import { Ajv, type Options, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';

// ajv-formats is CommonJS; its default export arrives wrapped under native ESM.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

type FastifyValidator = ReturnType<FastifySchemaCompiler<FastifySchema>>;

const shared: Options = { allErrors: false, useDefaults: true, removeAdditional: true };

/**
 * Ajv coerces "Infinity" (and "-Infinity") to a number, counts it as an integer and then skips
 * minimum/maximum, which only look at finite numbers: `?limit=Infinity` would pass as a valid
 * limit and fail later in SQL. Query strings and path parameters are flat, so after coercion
 * any non-finite number among their values is refused here.
 */
function finiteNumbersOnly(validate: ValidateFunction): FastifyValidator {
  return (data: unknown) => {
    if (!validate(data))
      return { error: (validate.errors ?? []) as FastifySchemaValidationError[] };
    if (typeof data !== 'object' || data === null) return true;
    for (const [name, value] of Object.entries(data)) {
      const values: unknown[] = Array.isArray(value) ? value : [value];
      if (values.some((item) => typeof item === 'number' && !Number.isFinite(item))) {
        const error: FastifySchemaValidationError = {
          keyword: 'type',
          instancePath: `/${name}`,
          schemaPath: '#/type',
          params: {},
          message: 'must be a finite number',
        };
        return { error: [error] };
      }
    }
    return true;
  };
}

/**
 * Query strings and path parameters arrive as text and are coerced to their schema types;
 * JSON bodies are not coerced, so `{"content": 123}` is a wrongly typed field (422)
 * rather than silently becoming "123".
 */
export function createValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const coercing = addFormats(new Ajv({ ...shared, coerceTypes: 'array' }));
  const strict = addFormats(new Ajv({ ...shared, coerceTypes: false }));
  return ({ schema, httpPart }) =>
    httpPart === 'body'
      ? (strict.compile(schema as object) as FastifyValidator)
      : finiteNumbersOnly(coercing.compile(schema as object));
}
