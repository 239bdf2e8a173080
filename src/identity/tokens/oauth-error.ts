/** An RFC 6749 §5.2 error answer of the token endpoint: `{error, error_description}` with its status. */
export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    readonly error:
      | 'invalid_request'
      | 'invalid_client'
      | 'invalid_grant'
      | 'unsupported_grant_type'
      | 'invalid_scope'
      | 'slow_down',
    readonly description: string,
    readonly statusCode = error === 'invalid_client' ? 401 : error === 'slow_down' ? 429 : 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}
