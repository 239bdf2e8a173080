import type { Logger } from 'pino';
import type { Config } from '../../../config.ts';
import type { Channel } from '../../templates/index.ts';
import type { OutgoingMessage } from '../message.ts';
import type { Accepted } from '../outcome.ts';
import { Pacer, parseRates } from '../pacer.ts';
import { type BreakerSettings, ProviderChain, slotFor } from '../providers.ts';
import { SmtpProvider } from './email.ts';
import { WebPushProvider } from './push.ts';
import { HttpSmsProvider } from './sms.ts';

export interface ProviderUrls {
  smtp: string[];
  sms: string[];
}

export const splitUrls = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * Every provider this process sends through, by channel: SMTP and SMS chains in failover order, and Web Push
 * with a breaker per push service (each subscription names its own; there is nothing to fail over to).
 */
export class Channels {
  private readonly chains: Map<Channel, ProviderChain>;
  private readonly push: WebPushProvider;
  /** One chain per push service origin, with its own breaker and pacer. */
  private readonly pushChains = new Map<string, ProviderChain>();
  private readonly rates: Map<string, number>;
  private readonly breaker: BreakerSettings;

  constructor(
    config: Config,
    urls: ProviderUrls,
    vapid: { subject: string; publicKey: string; privateKey: string },
    private readonly logger: Logger,
  ) {
    this.rates = parseRates(config.NOTIFY_PROVIDER_RATE);
    this.breaker = {
      failureThreshold: config.CIRCUIT_BREAKER_FAILURE_THRESHOLD,
      openTimeoutMs: config.CIRCUIT_BREAKER_TIMEOUT_SECONDS * 1000,
    };
    const timeoutMs = config.NOTIFY_SEND_TIMEOUT_MS;
    const maxConnections = Math.max(1, Math.min(32, Math.ceil(config.NOTIFY_CONCURRENCY / 8)));
    this.chains = new Map([
      [
        'email',
        new ProviderChain(
          'email',
          urls.smtp.map((url) => {
            const provider = new SmtpProvider(url, config.NOTIFY_EMAIL_FROM, { maxConnections, timeoutMs });
            return slotFor(provider, this.pacerFor('email', provider.name), this.breaker, logger);
          }),
        ),
      ],
      [
        'sms',
        new ProviderChain(
          'sms',
          urls.sms.map((url) => {
            const provider = new HttpSmsProvider(url, timeoutMs);
            return slotFor(provider, this.pacerFor('sms', provider.name), this.breaker, logger);
          }),
        ),
      ],
    ]);
    this.push = new WebPushProvider(vapid, timeoutMs);
  }

  /** A pacer for a provider named by URL, else for its channel (shared by the channel's providers). */
  private readonly channelPacers = new Map<string, Pacer>();
  private pacerFor(channel: Channel, name: string): Pacer | undefined {
    const own = this.rates.get(name);
    if (own) return new Pacer(own);
    const shared = this.rates.get(channel);
    if (!shared) return undefined;
    let pacer = this.channelPacers.get(channel);
    if (!pacer) {
      pacer = new Pacer(shared);
      this.channelPacers.set(channel, pacer);
    }
    return pacer;
  }

  providers(channel: Channel): string[] {
    return channel === 'push' ? [this.push.name] : this.chains.get(channel)!.names;
  }

  async send(message: OutgoingMessage): Promise<Accepted> {
    if (message.channel !== 'push') return this.chains.get(message.channel)!.send(message);
    const origin = new URL(message.to).origin;
    let chain = this.pushChains.get(origin);
    if (!chain) {
      const slot = slotFor(
        this.push,
        this.pacerFor('push', origin),
        this.breaker,
        this.logger,
        `notify push ${origin}`,
      );
      chain = new ProviderChain('push', [slot]);
      this.pushChains.set(origin, chain);
    }
    const accepted = await chain.send(message);
    return { ...accepted, provider: origin };
  }

  async close(): Promise<void> {
    await Promise.all([...this.chains.values()].map((c) => c.close()));
  }
}
