import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError } from './errors.ts';

/**
 * A route's `validatorCompiler` for JSON bodies checked strictly: no type coercion (`"5"` or `true` is
 * not an id), a message naming the field, in the platform's 400 `VALIDATION_FAILED` body. Query strings
 * keep the app's coercing validator (they are text by nature).
 */
export const strictBody: FastifySchemaCompiler<TSchema> = ({ schema }) => {
  const validator = Compile(schema as TSchema);
  return (data: unknown) => {
    if (validator.Check(data)) return { value: data };
    const [first] = validator.Errors(data);
    const where = first?.instancePath ? `body${first.instancePath}` : 'body';
    return { error: new AppError('VALIDATION_FAILED', 400, `${where} ${first?.message ?? 'is invalid'}`) };
  };
};
