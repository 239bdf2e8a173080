import { type AuditEntryInput, appendAudit } from '../platform/audit/index.ts';
import type { Sql, Tx } from '../platform/db/client.ts';
import { publish } from '../platform/outbox/index.ts';
import type { AttrJson } from './attr.ts';
import { FilesErrors } from './errors.ts';
import { FilesTopics } from './events.ts';
import { acceptsUploads } from './modes.ts';
import * as store from './store.ts';

export interface CacheWrite {
  attr: AttrJson;
  actor: Pick<AuditEntryInput, 'actorType' | 'actorId'>;
  /** The `discovery` step's test hook, run inside the transaction before the event is written. */
  beforeDiscovery: () => void | Promise<void>;
}

interface Pending extends CacheWrite {
  resolve: () => void;
  reject: (error: unknown) => void;
}

const BATCH_MAX = 256;

/**
 * The database step of uploads, group-committed: the rows, `file.stored` events and audit entries of
 * every upload waiting at that moment go in one transaction. The audit chain's lock is held until
 * commit, so one transaction per upload would queue every upload behind every other's commit fsync.
 * Should a batch fail, each of its uploads is retried alone, so only the one at fault fails.
 */
export class CacheWriter {
  private queue: Pending[] = [];
  private running = false;

  constructor(private readonly db: Sql) {}

  write(item: CacheWrite): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...item, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH_MAX);
      try {
        const refused = await this.db.begin((tx) => writeBatch(tx, batch));
        for (const item of batch) {
          const error = refused.get(item);
          if (error) item.reject(error);
          else item.resolve();
        }
      } catch (error) {
        if (batch.length === 1) {
          batch[0]!.reject(error);
          continue;
        }
        for (const item of batch) {
          try {
            const refused = await this.db.begin((tx) => writeBatch(tx, [item]));
            const own = refused.get(item);
            if (own) item.reject(own);
            else item.resolve();
          } catch (single) {
            item.reject(single);
          }
        }
      }
    }
    this.running = false;
  }
}

/** One transaction: element modes checked under a share lock, then rows, events and audit entries. */
async function writeBatch(tx: Tx, batch: Pending[]): Promise<Map<Pending, Error>> {
  const refused = new Map<Pending, Error>();
  const modes = new Map<string, string | undefined>();
  for (const element of [...new Set(batch.map((item) => item.attr.storage_element_id))].sort())
    modes.set(element, await store.lockElementMode(tx, element));
  const accepted = batch.filter((item) => {
    const mode = modes.get(item.attr.storage_element_id);
    if (mode && acceptsUploads(mode as never)) return true;
    refused.set(
      item,
      FilesErrors.readOnly(
        `Storage element ${item.attr.storage_element_id} is in ${mode ?? 'no'} mode and takes no uploads`,
      ),
    );
    return false;
  });
  await Promise.all(accepted.map((item) => store.insertFile(tx, item.attr)));
  for (const item of accepted) await item.beforeDiscovery();
  await publish(
    tx,
    ...accepted.map(({ attr }) => ({
      topic: FilesTopics.fileStored,
      key: attr.file_id,
      payload: {
        fileId: attr.file_id,
        storageElementId: attr.storage_element_id,
        sizeBytes: attr.size_bytes,
        checksum: attr.checksum,
      },
    })),
  );
  // Last: the audit chain's lock is held from the first append until commit.
  for (const { attr, actor } of accepted) {
    await appendAudit(tx, {
      ...actor,
      action: 'file.upload',
      resource: `file:${attr.file_id}`,
      result: 'success',
      metadata: {
        filename: attr.filename,
        size_bytes: attr.size_bytes,
        checksum: attr.checksum,
        storage_element_id: attr.storage_element_id,
      },
    });
  }
  return refused;
}
