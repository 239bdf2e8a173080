import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EventHeaders, type StreamSettings } from '../../src/platform/events/index.ts';

/** TEST_NATS_URL, else EVENTS_NATS_URL, else the development machine's server. */
export const NATS_URL = process.env.TEST_NATS_URL ?? process.env.EVENTS_NATS_URL ?? 'nats://127.0.0.1:4222';

/** A connection to the test NATS, or why there is none (the suites then skip and say so). */
export async function natsOrReason(): Promise<{ nc?: NatsConnection; reason?: string }> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 2000, maxReconnectAttempts: 0 });
    const jsm = await jetstreamManager(nc).catch((error: Error) => {
      void nc.close();
      throw new Error(`JetStream is not enabled: ${error.message}`);
    });
    await jsm.getAccountInfo();
    return { nc };
  } catch (error) {
    return { reason: `NATS with JetStream not reachable at ${NATS_URL} (${(error as Error).message})` };
  }
}

/** A stream and subject prefix of its own, so tests never see each other's events or ids. */
export function uniqueStream(duplicateWindowSeconds = 120): StreamSettings {
  const tag = randomBytes(5).toString('hex');
  return { stream: `TEST_${tag}`, subjectPrefix: `test${tag}.`, duplicateWindowSeconds };
}

export interface StoredEvent {
  seq: number;
  msgId: string;
  position: number;
  key: string | null;
  subject: string;
}

/** Every message of the stream in stream order, read by sequence. */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredEvent[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const js = jetstream(nc);
  const out: StoredEvent[] = [];
  if (state.messages === 0) return out;
  const reader = await js.consumers.get(stream);
  const messages = await reader.consume();
  for await (const m of messages) {
    out.push({
      seq: m.seq,
      msgId: m.headers?.get(EventHeaders.msgId) ?? '',
      position: Number(m.headers?.get(EventHeaders.position)),
      key: m.headers?.has(EventHeaders.key) ? m.headers.get(EventHeaders.key) : null,
      subject: m.subject,
    });
    if (m.seq >= state.last_seq) break;
  }
  await messages.close();
  return out;
}

export async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(stream).catch(() => {});
}
