import { isPermission, type Permission } from '../../platform/auth/permissions.ts';
import { textProblem } from '../../platform/storable-text.ts';
import { OAuthError } from './oauth-error.ts';

/** What a token request asks for, once its form is understood (RFC 6749 §4.4, seed 002's JSON). */
export interface TokenRequest {
  clientId: string;
  clientSecret: string;
  /** How the client authenticated: decides the WWW-Authenticate of an invalid_client answer. */
  method: 'client_secret_basic' | 'client_secret_post';
  /** Asked-for permissions (the `scope` parameter), undefined when the client sent none. */
  scope?: Permission[];
}

export const BASIC_CHALLENGE = 'Basic realm="boxoffice", charset="UTF-8"';
const MAX_FIELD_LENGTH = 512;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The token endpoint's body after parsing: form fields (each once) or a JSON object. */
export type TokenBody = { fields: Record<string, unknown>; form: boolean } | undefined;

/** A field of either body form: a string or absent; anything else is a malformed request. */
function field(body: TokenBody, name: string): string | undefined {
  if (!body) return undefined;
  const value = Object.hasOwn(body.fields, name) ? body.fields[name] : undefined;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new OAuthError('invalid_request', `${name} must be a string`);
  if (value.length > MAX_FIELD_LENGTH || textProblem(value)) {
    throw new OAuthError('invalid_request', `${name} is not a value this server issues`);
  }
  return value;
}

/**
 * RFC 6749 §2.3.1: HTTP Basic of the client id and secret, each application/x-www-form-urlencoded first
 * (so a `:` or non-ASCII in either is percent-encoded), decoded here.
 */
export function parseClientBasic(header: string): { clientId: string; clientSecret: string } {
  const invalid = () =>
    new OAuthError('invalid_client', 'The Basic credentials must be base64(client_id:client_secret)', 401, {
      'www-authenticate': BASIC_CHALLENGE,
    });
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(header.slice(6).trim(), 'base64'));
  } catch {
    throw invalid();
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw invalid();
  try {
    const formDecode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw invalid();
  }
}

/**
 * Reads grant_type, the client's credentials (Basic or body fields, not both: RFC 6749 §2.3) and scope.
 * The JSON form of seed 002 needs no grant_type; the form body needs `grant_type=client_credentials`.
 */
export function readTokenRequest(body: TokenBody, authorization: string | undefined): TokenRequest {
  if (!body) {
    throw new OAuthError(
      'invalid_request',
      'Send application/x-www-form-urlencoded (grant_type=client_credentials) or JSON {client_id, client_secret}',
    );
  }
  const grantType = field(body, 'grant_type');
  if (grantType === undefined && body.form) throw new OAuthError('invalid_request', 'grant_type is required');
  if (grantType !== undefined && grantType !== 'client_credentials') {
    throw new OAuthError('unsupported_grant_type', 'Only grant_type=client_credentials is supported');
  }

  const bodyId = field(body, 'client_id');
  const bodySecret = field(body, 'client_secret');
  const scope = readScope(field(body, 'scope'));
  let request: TokenRequest;
  if (authorization !== undefined && /^basic /i.test(authorization)) {
    if (bodySecret !== undefined) {
      throw new OAuthError(
        'invalid_request',
        'Authenticate the client with HTTP Basic or with client_id/client_secret in the body, not both',
      );
    }
    const basic = parseClientBasic(authorization);
    // A client_id in the body beside Basic is allowed (RFC 6749 §3.2.1) if it names the same client.
    if (bodyId !== undefined && bodyId !== basic.clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body differs from the Basic credentials');
    }
    request = { ...basic, method: 'client_secret_basic' };
  } else if (authorization !== undefined) {
    throw new OAuthError('invalid_client', 'Only HTTP Basic client authentication is supported here', 401, {
      'www-authenticate': BASIC_CHALLENGE,
    });
  } else {
    if (bodyId === undefined || bodySecret === undefined) {
      throw new OAuthError(
        'invalid_client',
        'Client authentication is required (HTTP Basic, or client_id and client_secret)',
        401,
        {
          'www-authenticate': BASIC_CHALLENGE,
        },
      );
    }
    request = { clientId: bodyId, clientSecret: bodySecret, method: 'client_secret_post' };
  }
  if (request.clientId.length === 0) throw new OAuthError('invalid_request', 'client_id is empty');
  if (scope) request.scope = scope;
  return request;
}

/** RFC 6749 §3.3: space-delimited; ours are permission names. Unknown names are invalid_scope. */
function readScope(scope: string | undefined): Permission[] | undefined {
  if (scope === undefined) return undefined;
  const names = scope.split(' ').filter((name) => name.length > 0);
  if (names.length === 0) throw new OAuthError('invalid_scope', 'scope is empty');
  const unknown = names.filter((name) => !isPermission(name));
  if (unknown.length > 0) throw new OAuthError('invalid_scope', `Unknown scope: ${unknown.join(' ')}`);
  return [...new Set(names as Permission[])];
}

/** A urlencoded body (UTF-8), each parameter at most once (RFC 6749 §3.1, §3.2). */
export function parseForm(text: string): Record<string, string> {
  const form: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(form, name)) throw new OAuthError('invalid_request', `${name} appears more than once`);
    form[name] = value;
  }
  return form;
}
