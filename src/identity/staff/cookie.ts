import type { Config } from '../../config.ts';

/**
 * The admin panel's session cookie. Behind HTTPS (STAFF_COOKIE_SECURE) it is `Secure` and named with
 * the `__Host-` prefix, which browsers accept only from a secure origin, with `Path=/` and no
 * `Domain`: no sibling subdomain and no plain-HTTP page can plant or overwrite it. No `Max-Age`:
 * the browser forgets it when it closes; the server ends it earlier (idle and absolute expiry).
 */
export interface SessionCookie {
  name: string;
  /** The `Set-Cookie` value that stores `token`. */
  set(token: string): string;
  /** The `Set-Cookie` value that removes it. */
  clear(): string;
  /** The token from a `Cookie` header: undefined without our cookie, '' when it is there but empty. */
  read(header: string | undefined): string | undefined;
}

export function sessionCookie(config: Pick<Config, 'STAFF_COOKIE_SECURE'>): SessionCookie {
  const secure = config.STAFF_COOKIE_SECURE;
  const name = secure ? '__Host-boxoffice_session' : 'boxoffice_session';
  const attributes = `; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  return {
    name,
    set: (token) => `${name}=${token}${attributes}`,
    clear: () => `${name}=${attributes}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`,
    read: (header) => readCookie(header, name),
  };
}

/** RFC 6265 §5.4: `name=value` pairs separated by `; `. The first pair with the name wins. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}
