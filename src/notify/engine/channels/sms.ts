import { type ChannelProvider, type OutgoingMessage, publicName } from '../message.ts';
import { httpFailure, SendFailure } from '../outcome.ts';

/**
 * SMS over an HTTP provider API (SMS_PROVIDER_URL): POST `{to, text, reference}` as JSON, 2xx = accepted,
 * the provider's `id` kept as the message id for its delivery callbacks.
 */
export class HttpSmsProvider implements ChannelProvider {
  readonly channel = 'sms' as const;
  readonly name: string;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {
    this.name = publicName(url);
  }

  async send(message: OutgoingMessage): Promise<{ providerMessageId: string | null }> {
    if (!message.sms) throw new SendFailure('permanent', 'not an SMS', undefined, this.name);
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': message.reference },
        body: JSON.stringify({ to: message.to, text: message.sms.text, reference: message.reference }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new SendFailure('transient', `${this.name}: ${(error as Error).message}`, undefined, this.name);
    }
    const text = await response.text().catch(() => '');
    if (response.ok) {
      let id: string | null = null;
      try {
        const body = JSON.parse(text) as { id?: unknown };
        if (typeof body.id === 'string' || typeof body.id === 'number') id = String(body.id);
      } catch {
        // a provider that answers 2xx without JSON still accepted the message
      }
      return { providerMessageId: id };
    }
    throw httpFailure(response, `${this.name}: HTTP ${response.status} ${text.slice(0, 200)}`, this.name);
  }

  async close(): Promise<void> {}
}
