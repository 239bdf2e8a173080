import { AppError } from '../platform/http/errors.ts';

/** The files module's failures, each with a stable code (docs/files.md lists them). */
export const FilesErrors = {
  notFound: (id: string) => new AppError('FILE_NOT_FOUND', 404, `No file ${id}`),
  elementNotFound: (id: string) => new AppError('STORAGE_ELEMENT_NOT_FOUND', 404, `No storage element ${id}`),
  invalid: (message: string) => new AppError('VALIDATION_FAILED', 400, message),
  digestMismatch: (expected: string, actual: string) =>
    new AppError(
      'FILE_DIGEST_MISMATCH',
      400,
      `Content-Digest sha-256=:${expected}: does not match the bytes received (sha-256=:${actual}:); nothing was stored`,
    ),
  tooLarge: (limit: number) =>
    new AppError(
      'FILE_TOO_LARGE',
      413,
      `The file is larger than the limit of ${limit} bytes; nothing was stored`,
    ),
  readOnly: (detail: string) => new AppError('STORAGE_READ_ONLY', 409, detail),
  full: (detail: string) => new AppError('STORAGE_FULL', 507, detail),
  deleteNotAllowed: (elementId: string, mode: string) =>
    new AppError(
      'FILE_DELETE_NOT_ALLOWED',
      409,
      `Files are deleted only on an element in edit mode; element ${elementId} is in ${mode} mode`,
    ),
  transitionNotAllowed: (elementId: string, from: string, to: string, allowed: string[]) =>
    new AppError(
      'STORAGE_MODE_TRANSITION_NOT_ALLOWED',
      409,
      `Element ${elementId} cannot go from ${from} to ${to} through the API. Transitions the API makes: rw → ro, ro → ar${
        allowed.length ? ` (from ${from}: ${allowed.join(', ')})` : ` (none from ${from})`
      }; edit → rw and leaving ar are configuration changes with a restart`,
      { from, to, allowed: allowed.map((mode) => `${from}->${mode}`) },
    ),
  bytesMissing: (id: string) =>
    new AppError(
      'FILE_BYTES_UNAVAILABLE',
      500,
      `The bytes of file ${id} are missing or unreadable on its element`,
    ),
};
