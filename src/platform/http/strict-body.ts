import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { AppError } from './errors.ts';

/** `body/colour schema is false` (an unknown field under additionalProperties: false) in words. */
function describe(where: string, message: string | undefined): string {
  if (message === 'schema is false') return `${where} is not a known field`;
  return `${where} ${message ?? 'is invalid'}`;
}

/**
 * A route's `validatorCompiler` for JSON bodies checked strictly: no type coercion (`"5"` or `true` is
 * not an id), a message naming the field, in the platform's 400 `VALIDATION_FAILED` body. An absent body is
 * checked as `{}`, so a POST whose fields are all optional needs none. The other parts (path, query string,
 * headers) are text by nature and are converted first, so `/contacts/42` is the integer 42.
 */
export const strictBody: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(schema as TSchema);
  if (httpPart !== 'body') {
    return (data: unknown) => {
      const value = Value.Convert(schema as TSchema, data);
      if (validator.Check(value)) return { value };
      const [first] = validator.Errors(value);
      return {
        error: new AppError(
          'VALIDATION_FAILED',
          400,
          describe(`${httpPart ?? 'request'}${first?.instancePath ?? ''}`, first?.message),
        ),
      };
    };
  }
  return (data: unknown) => {
    const body = data ?? {};
    if (validator.Check(body)) return { value: body };
    const [first] = validator.Errors(body);
    const where = first?.instancePath ? `body${first.instancePath}` : 'body';
    return { error: new AppError('VALIDATION_FAILED', 400, describe(where, first?.message)) };
  };
};
