import { Type } from 'typebox';

/** The platform's error body (errors.ts) as a response schema, for a route's documented failures. */
export const errorResponse = (description: string) =>
  Type.Object(
    {
      code: Type.String({ description: 'Stable machine-readable code, e.g. VALIDATION_FAILED' }),
      message: Type.String(),
      requestId: Type.String(),
      details: Type.Optional(Type.Unknown()),
    },
    { description },
  );

/** A database id (1 and up) in a body, query or path. */
export const positiveId = (description: string) =>
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description, examples: [1] });
