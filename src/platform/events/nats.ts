import { type JetStreamManager, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node';

export interface StreamSettings {
  /** EVENTS_NATS_STREAM */
  stream: string;
  /** EVENTS_NATS_SUBJECT_PREFIX, ending in a dot. */
  subjectPrefix: string;
  duplicateWindowSeconds: number;
}

/** A connection that keeps reconnecting for ever: the relay and consumers wait out a NATS restart. */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
}

export const subjectOf = (settings: StreamSettings, topic: string): string =>
  `${settings.subjectPrefix}${topic}`;
export const topicOf = (settings: StreamSettings, subject: string): string =>
  subject.slice(settings.subjectPrefix.length);

/**
 * Creates the stream if it is missing (file storage, every subject under the prefix, the duplicate
 * window), and sets the window and adds the subjects on one that exists. Safe from every process.
 */
export async function ensureStream(nc: NatsConnection, settings: StreamSettings): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const wanted = {
    subjects: [`${settings.subjectPrefix}>`],
    duplicate_window: nanos(settings.duplicateWindowSeconds * 1000),
  };
  const existing = await jsm.streams.info(settings.stream).catch((error: Error) => {
    if (/stream not found/i.test(error.message)) return null;
    throw error;
  });
  if (!existing) {
    await jsm.streams
      .add({ name: settings.stream, storage: StorageType.File, ...wanted })
      .catch(async (error: Error) => {
        // Another process created it first: fine, as long as it now exists.
        if (!/already in use|already exists/i.test(error.message)) throw error;
        await jsm.streams.info(settings.stream);
      });
  } else {
    // Subjects an operator added are kept; ours is added if missing.
    const subjects = [...new Set([...(existing.config.subjects ?? []), ...wanted.subjects])];
    if (
      existing.config.duplicate_window !== wanted.duplicate_window ||
      subjects.length !== (existing.config.subjects ?? []).length
    ) {
      await jsm.streams.update(settings.stream, { ...existing.config, ...wanted, subjects });
    }
  }
  return jsm;
}
