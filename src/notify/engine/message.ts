import type { Channel } from '../templates/index.ts';

/** One delivery, rendered and ready for a provider. */
export interface OutgoingMessage {
  deliveryId: number;
  /** Stable across attempts, so a provider (or a receiving MTA) can tell a resend from a new message. */
  reference: string;
  channel: Channel;
  /** Email address, phone number, or push endpoint. */
  to: string;
  email?: { subject: string; html: string; text: string; headers: Record<string, string> };
  push?: {
    title: string;
    body: string;
    url?: string;
    subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
  };
  sms?: { text: string };
}

/** A provider of one channel: sends one message or throws a SendFailure (outcome.ts). */
export interface ChannelProvider {
  /** Names it in logs, metrics and delivery rows: e.g. `smtp://127.0.0.1:2525`. */
  readonly name: string;
  readonly channel: Channel;
  send(message: OutgoingMessage): Promise<{ providerMessageId: string | null }>;
  close(): Promise<void>;
}

/** A URL without its credentials, for names that end up in logs and rows. */
export function publicName(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
