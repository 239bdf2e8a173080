import { AppError } from '../../platform/http/errors.ts';

/** Every way a service account request can fail, with its status (docs/identity.md lists them). */
export const ServiceAccountErrorCodes = {
  SERVICE_ACCOUNT_NOT_FOUND: 404,
  SERVICE_ACCOUNT_INVALID: 400,
  SERVICE_ACCOUNT_NAME_TAKEN: 409,
  SERVICE_ACCOUNT_LAST_ADMIN: 409,
} as const;

type Code = keyof typeof ServiceAccountErrorCodes;

const fail = (code: Code, message: string) => new AppError(code, ServiceAccountErrorCodes[code], message);

export const ServiceAccountErrors = {
  notFound: (id: string) => fail('SERVICE_ACCOUNT_NOT_FOUND', `service account ${id} does not exist`),
  invalid: (message: string) => fail('SERVICE_ACCOUNT_INVALID', message),
  nameTaken: (name: string) =>
    fail(
      'SERVICE_ACCOUNT_NAME_TAKEN',
      `a service account named "${name}" exists already (names ignore case)`,
    ),
  lastAdmin: (id: string, what: string) =>
    fail(
      'SERVICE_ACCOUNT_LAST_ADMIN',
      `service account ${id} is the last active ADMIN: ${what} it would leave no one to manage service accounts through the API (create another ADMIN first, e.g. with \`boxoffice service-accounts create --role ADMIN\`)`,
    ),
};
