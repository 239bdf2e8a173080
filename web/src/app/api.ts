/**
 * The panel's one way to call the platform: same-origin fetch with the session cookie, the session's
 * CSRF token on every state-changing request (docs/identity.md), JSON in and out, and the platform's
 * error body (`{code, message, requestId, details}`) turned into an `ApiError` the screens can show as it is.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error body's `details` (e.g. a template's validation problems with line and column). */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let onSessionEnded: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when any call answers 401: the session ended (idle, revoked), so the panel goes to sign-in. */
export function onUnauthenticated(handler: () => void): void {
  onSessionEnded = handler;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** The headers every state-changing request needs (also for XHR uploads, which cannot use `api`). */
export function csrfHeaders(): Record<string, string> {
  return csrfToken ? { 'x-csrf-token': csrfToken } : {};
}

export async function api<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (method !== 'GET' && method !== 'HEAD') Object.assign(headers, csrfHeaders());
  let body: BodyInit | undefined;
  if (options.body instanceof FormData || options.body instanceof Blob) body = options.body;
  else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(withQuery(path, options.query), {
    method,
    headers,
    body,
    credentials: 'same-origin',
    signal: options.signal,
  });
  if (response.status === 204 || method === 'HEAD') return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const error = (parsed ?? {}) as { code?: string; message?: string; details?: unknown };
    if (response.status === 401 && !path.startsWith('/api/admin/session')) onSessionEnded?.();
    throw new ApiError(
      response.status,
      error.code ?? String(response.status),
      error.message ?? (typeof parsed === 'string' && parsed ? parsed : response.statusText),
      error.details,
    );
  }
  return parsed as T;
}

/** A message for any thrown value, for error banners. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return `${error.message} (${error.status} ${error.code})`;
  if (error instanceof Error) return error.message;
  return String(error);
}
