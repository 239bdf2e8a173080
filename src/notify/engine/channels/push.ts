import webpush from 'web-push';
import type { ChannelProvider, OutgoingMessage } from '../message.ts';
import { httpFailure, SendFailure } from '../outcome.ts';

/** Seconds a push service keeps an undelivered message (RFC 8030 TTL): a day. */
const TTL_SECONDS = 86_400;
/** A VAPID token is signed per push service and reused for 12 h (RFC 8292 allows up to 24 h). */
const VAPID_LIFETIME_SECONDS = 12 * 3600;

/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291), to each subscription's own
 * push service. `web-push` builds the request (encryption, VAPID JWT); it is sent with fetch, which also
 * speaks plain HTTP to the development push service. 404/410 mean the subscription is gone.
 */
export class WebPushProvider implements ChannelProvider {
  readonly channel = 'push' as const;
  readonly name = 'web-push';

  /** The Authorization header per push service origin: an ES256 signature per push would cost more than the push. */
  private readonly tokens = new Map<string, { authorization: string; renewAt: number }>();

  constructor(
    private readonly vapid: { subject: string; publicKey: string; privateKey: string },
    private readonly timeoutMs: number,
  ) {}

  private authorization(endpoint: string): string {
    const audience = new URL(endpoint).origin;
    const now = Math.floor(Date.now() / 1000);
    const cached = this.tokens.get(audience);
    if (cached && cached.renewAt > now) return cached.authorization;
    const headers = webpush.getVapidHeaders(
      audience,
      this.vapid.subject,
      this.vapid.publicKey,
      this.vapid.privateKey,
      'aes128gcm',
      now + VAPID_LIFETIME_SECONDS,
    );
    const authorization = headers.Authorization;
    // Renewed an hour before it expires, so no push carries a token about to lapse.
    this.tokens.set(audience, { authorization, renewAt: now + VAPID_LIFETIME_SECONDS - 3600 });
    return authorization;
  }

  async send(message: OutgoingMessage): Promise<{ providerMessageId: string | null }> {
    const push = message.push;
    if (!push) throw new SendFailure('permanent', 'not a push message', undefined, this.name);
    const payload = JSON.stringify({
      title: push.title,
      body: push.body,
      url: push.url,
      id: message.reference,
    });
    let details: ReturnType<typeof webpush.generateRequestDetails>;
    try {
      details = webpush.generateRequestDetails(push.subscription, payload, {
        headers: { Authorization: this.authorization(push.subscription.endpoint) },
        TTL: TTL_SECONDS,
        // RFC 8030 §5.4: a newer message with the same topic replaces an undelivered older one.
        topic: message.reference.replace(/[^A-Za-z0-9_-]/g, '').slice(-32),
      });
    } catch (error) {
      // Bad subscription keys: no push service will ever take it.
      throw new SendFailure('permanent', `web-push: ${(error as Error).message}`, undefined, this.name);
    }
    let response: Response;
    try {
      response = await fetch(details.endpoint, {
        method: details.method,
        headers: details.headers as Record<string, string>,
        body: details.body as Buffer,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new SendFailure(
        'transient',
        `${origin(details.endpoint)}: ${(error as Error).message}`,
        undefined,
        this.name,
      );
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return { providerMessageId: response.headers.get('location') };
    // 404 and 410: the push service no longer knows the subscription (RFC 8030 §7.3).
    throw httpFailure(
      response,
      `${origin(details.endpoint)}: HTTP ${response.status} ${text.slice(0, 200)}`,
      this.name,
      [404, 410],
    );
  }

  async close(): Promise<void> {}
}

function origin(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return 'push service';
  }
}
