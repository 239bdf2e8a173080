/** Tracking links of an email: open pixel, click redirects, unsubscribe (FR-006). Being built. */
export interface EmailTracking {
  html: string;
  /** RFC 2369 List-Unsubscribe header value, e.g. `<https://…/u/TOKEN>`. */
  listUnsubscribe: string;
  /** RFC 8058: `List-Unsubscribe=One-Click`. */
  listUnsubscribePost: string;
}

export interface TrackedDelivery {
  id: number;
  createdOn: string;
  channel: 'email' | 'push' | 'sms';
  category: string;
  recipient: string;
}

/** Adds the open pixel, rewrites links to click redirects and makes the unsubscribe headers. */
export function trackEmail(
  _key: Buffer,
  _baseUrl: string,
  _delivery: TrackedDelivery,
  html: string,
): EmailTracking {
  return { html, listUnsubscribe: '', listUnsubscribePost: 'List-Unsubscribe=One-Click' };
}
