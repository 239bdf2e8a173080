import type { Logger } from 'pino';
import {
  type Breaker,
  CircuitBreaker,
  isCircuitOpenError,
} from '../../platform/resilience/circuit-breaker.ts';
import type { Channel } from '../templates/index.ts';
import type { ChannelProvider, OutgoingMessage } from './message.ts';
import { type Accepted, asSendFailure, SendFailure } from './outcome.ts';
import type { Pacer } from './pacer.ts';

export interface ProviderSlot {
  provider: ChannelProvider;
  breaker: Breaker;
  pacer: Pacer | undefined;
}

export interface BreakerSettings {
  failureThreshold: number;
  openTimeoutMs: number;
}

export function slotFor(
  provider: ChannelProvider,
  pacer: Pacer | undefined,
  settings: BreakerSettings,
  logger: Logger,
  breakerName = `notify ${provider.name}`,
): ProviderSlot {
  const breaker = new CircuitBreaker({
    name: breakerName,
    ...settings,
    onStateChange: ({ from, to }) =>
      logger.warn({ provider: provider.name, from, to }, 'notify: provider breaker'),
  });
  return { provider, breaker, pacer };
}

/**
 * A channel's providers in failover order. A message goes to the first whose breaker is closed; a transient
 * failure or an open breaker moves it to the next at once; a failure that is the recipient's (bounce,
 * permanent, gone) ends it, since another provider would refuse it too. When every provider failed
 * transiently the delivery is retried later (the worker's backoff), with the longest Retry-After asked.
 */
export class ProviderChain {
  constructor(
    readonly channel: Channel,
    private readonly slots: readonly ProviderSlot[],
  ) {
    if (slots.length === 0) throw new Error(`notify: no ${channel} provider`);
  }

  get names(): string[] {
    return this.slots.map((s) => s.provider.name);
  }

  async send(message: OutgoingMessage, slots: readonly ProviderSlot[] = this.slots): Promise<Accepted> {
    const failures: SendFailure[] = [];
    for (const slot of slots) {
      try {
        await slot.pacer?.take();
        const { providerMessageId } = await slot.breaker.execute(() => slot.provider.send(message));
        return { provider: slot.provider.name, providerMessageId };
      } catch (error) {
        if (isCircuitOpenError(error)) {
          failures.push(new SendFailure('transient', error.message, error.retryAfterMs, slot.provider.name));
          continue;
        }
        const failure = asSendFailure(error, slot.provider.name);
        if (failure.kind !== 'transient') throw failure;
        failures.push(failure);
      }
    }
    const longest = Math.max(0, ...failures.map((f) => f.retryAfterMs ?? 0));
    throw new SendFailure(
      'transient',
      failures.map((f) => f.message).join('; '),
      longest > 0 ? longest : undefined,
      failures.at(-1)?.provider,
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.provider.close()));
  }
}
