import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type AuditEntryInput, appendAudit } from '../platform/audit/index.ts';
import type { Platform } from '../platform/context.ts';
import { publish } from '../platform/outbox/index.ts';
import { findUnstorableText, textProblem } from '../platform/storable-text.ts';
import type { StoredFile } from './api.ts';
import { type AttrJson, checkMetadata, type FileMetadata, mergeMetadata, storedFileOf } from './attr.ts';
import { CacheWriter } from './cache-writer.ts';
import { replaceFileDurably } from './durable.ts';
import { LocalElement } from './element.ts';
import { type ElementConfig, parseElementsConfig } from './element-config.ts';
import { FilesErrors } from './errors.ts';
import { FilesTopics } from './events.ts';
import { ELEMENT_FILE, isFileId } from './layout.ts';
import { type FilesMetrics, filesMetrics } from './metrics.ts';
import {
  acceptsDeletes,
  acceptsMetadataChanges,
  acceptsUploads,
  apiTransitionsFrom,
  isMode,
  type Mode,
} from './modes.ts';
import { storeFile, type WriteHooks } from './protocol.ts';
import { replayJournals } from './recovery.ts';
import * as store from './store.ts';

export type Actor = Pick<AuditEntryInput, 'actorType' | 'actorId'>;

export interface PutInput {
  filename: string;
  contentType: string;
  body: Readable | Buffer;
  /** Or a function, called once the bytes are on disk (a multipart metadata part sent after the file). */
  metadata: Record<string, unknown> | (() => Promise<Record<string, unknown>>);
  actor: Actor;
  expectedSha256?: string | undefined;
}

export interface ElementState {
  id: string;
  mode: Mode;
  capacity_bytes: number;
  used_bytes: number;
  free_bytes: number;
  files: number;
}

/**
 * The files module in one process: its storage elements, registered at boot (journals replayed),
 * and every use case the routes, the CLI and other modules (api.ts) call.
 */
export class FilesService {
  hooks: WriteHooks = {};
  readonly metrics: FilesMetrics;
  private readonly cache: CacheWriter;

  private constructor(
    private readonly platform: Platform,
    readonly elements: Map<string, LocalElement>,
  ) {
    this.metrics = filesMetrics(platform.metrics, this);
    this.cache = new CacheWriter(platform.db);
  }

  /** Registers the configured elements, replays their journals and opens new ones. */
  static async boot(platform: Platform, options: { openForWrites?: boolean } = {}): Promise<FilesService> {
    const configs = parseElementsConfig(platform.config.FILES_ELEMENTS, platform.config.DATA_DIR);
    const bootId = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
    const elements = new Map<string, LocalElement>();
    for (const config of configs) {
      const element = new LocalElement(config, bootId, config.mode);
      await element.prepareDirectories();
      element.mode = await registerElement(platform, config);
      elements.set(config.id, element);
    }
    const service = new FilesService(platform, elements);
    for (const element of elements.values()) {
      await replayJournals(platform.db, element, platform.logger);
      if (options.openForWrites !== false) await element.openJournal();
    }
    await service.refreshUsage();
    return service;
  }

  get maxUploadBytes(): number {
    return this.platform.config.FILES_MAX_UPLOAD_BYTES;
  }

  async stop(): Promise<void> {
    for (const element of this.elements.values()) await element.journal?.close();
  }

  async refreshUsage(): Promise<void> {
    const usage = await store.elementUsage(this.platform.db);
    for (const element of this.elements.values()) {
      const used = usage.get(element.id);
      element.usedBytes = used?.usedBytes ?? 0;
      element.files = used?.files ?? 0;
    }
  }

  async put(input: PutInput): Promise<StoredFile> {
    const filename = checkFilename(input.filename);
    const contentType = checkContentType(input.contentType);
    const check = (raw: Record<string, unknown>): FileMetadata => {
      try {
        const metadata = checkMetadata(raw, { allowNull: false }) as FileMetadata;
        const problem = findUnstorableText(metadata, 'metadata');
        if (problem) throw new Error(problem);
        return metadata;
      } catch (error) {
        throw FilesErrors.invalid((error as Error).message);
      }
    };
    const given = input.metadata;
    const metadata = typeof given === 'function' ? async () => check(await given()) : check(given);
    const element = await this.chooseElement();
    try {
      const attr = await storeFile(
        this.platform.db,
        this.cache,
        element,
        {
          filename,
          contentType,
          body: input.body,
          metadata,
          actor: input.actor,
          expectedSha256: input.expectedSha256,
          maxBytes: this.maxUploadBytes,
        },
        this.hooks,
      );
      this.metrics.operation('upload', 'success');
      return storedFileOf(attr);
    } catch (error) {
      this.metrics.operation('upload', 'failure');
      throw error;
    }
  }

  async info(fileId: string): Promise<StoredFile | undefined> {
    if (!isFileId(fileId)) return undefined;
    const row = await store.getFile(this.platform.db, fileId);
    return row ? storedFileOf(row.attr) : undefined;
  }

  async open(fileId: string, range?: { start: number; end: number }): Promise<Readable> {
    const info = await this.info(fileId);
    if (!info) throw FilesErrors.notFound(fileId);
    return this.openStored(info, range);
  }

  /** The bytes of a file known to exist; waits until the file is open, so a missing one is an error here. */
  async openStored(info: StoredFile, range?: { start: number; end: number }): Promise<Readable> {
    const element = this.element(info.storageElementId);
    const stream = element.openRead(info.fileId, range);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    }).catch(() => {
      this.metrics.operation('download', 'failure');
      throw FilesErrors.bytesMissing(info.fileId);
    });
    this.metrics.operation('download', 'success');
    return stream;
  }

  /** attr.json as on disk (the truth), or the cached copy when the disk is unreadable. */
  async metadata(fileId: string): Promise<AttrJson> {
    const row = isFileId(fileId) ? await store.getFile(this.platform.db, fileId) : undefined;
    if (!row) throw FilesErrors.notFound(fileId);
    try {
      return await this.element(row.storageElementId).readAttr(fileId);
    } catch (error) {
      this.platform.logger.error(
        { module: 'files', fileId, err: error },
        'attr.json unreadable: answered from the cache',
      );
      return row.attr;
    }
  }

  async updateMetadata(fileId: string, patch: unknown, actor: Actor): Promise<AttrJson> {
    let changes: Record<string, unknown>;
    try {
      changes = checkMetadata(patch, { allowNull: true });
    } catch (error) {
      throw FilesErrors.invalid((error as Error).message);
    }
    if (!isFileId(fileId)) throw FilesErrors.notFound(fileId);
    let written: { element: LocalElement; before: AttrJson } | undefined;
    try {
      const attr = await this.platform.db.begin(async (tx) => {
        const row = await store.lockFile(tx, fileId);
        if (!row) throw FilesErrors.notFound(fileId);
        const element = this.element(row.storageElementId);
        const mode = await store.lockElementMode(tx, element.id);
        if (!mode || !acceptsMetadataChanges(mode))
          throw FilesErrors.readOnly(
            `Storage element ${element.id} is in ${mode} mode: metadata cannot change`,
          );
        const before = await element.readAttr(fileId);
        const next: AttrJson = {
          ...before,
          metadata: mergeMetadata(before.metadata, changes),
          updated_at: new Date().toISOString(),
        };
        try {
          checkMetadata(next.metadata, { allowNull: false });
        } catch (error) {
          throw FilesErrors.invalid((error as Error).message);
        }
        await store.updateFileAttr(tx, next);
        await publish(tx, { topic: FilesTopics.fileMetadataChanged, key: fileId, payload: { fileId } });
        await appendAudit(tx, {
          ...actor,
          action: 'file.metadata_update',
          resource: `file:${fileId}`,
          result: 'success',
          metadata: { fields: Object.keys(changes) },
        });
        // Last, while the row is locked: attr.json replaced atomically (temp, fsync, rename, dir fsync).
        // Should the commit fail after it, the old attr.json is put back.
        await element.writeAttr(next, { syncDir: true });
        written = { element, before };
        return next;
      });
      this.metrics.operation('metadata_update', 'success');
      return attr;
    } catch (error) {
      // The commit failed after attr.json was replaced: the previous version goes back the same way.
      if (written) await written.element.writeAttr(written.before, { syncDir: true }).catch(() => {});
      this.metrics.operation('metadata_update', 'failure');
      throw error;
    }
  }

  async delete(fileId: string, actor: Actor): Promise<void> {
    if (!isFileId(fileId)) throw FilesErrors.notFound(fileId);
    const row = await store.getFile(this.platform.db, fileId);
    if (!row) throw FilesErrors.notFound(fileId);
    const element = this.element(row.storageElementId);
    if (!acceptsDeletes(element.mode)) throw FilesErrors.deleteNotAllowed(element.id, element.mode);
    const journal = element.journal;
    if (!journal) throw FilesErrors.readOnly(`Storage element ${element.id} is not open for writes`);
    // Logged first: a crash after the row is gone is finished by replay (the bytes removed).
    await journal.begin(fileId, 'delete');
    try {
      await this.platform.db.begin(async (tx) => {
        const locked = await store.lockFile(tx, fileId);
        if (!locked) throw FilesErrors.notFound(fileId);
        const mode = await store.lockElementMode(tx, element.id);
        if (!mode || !acceptsDeletes(mode)) throw FilesErrors.deleteNotAllowed(element.id, mode ?? 'no');
        await store.deleteFile(tx, fileId);
        await publish(tx, {
          topic: FilesTopics.fileDeleted,
          key: fileId,
          payload: { fileId, reason: 'deleted' },
        });
        await appendAudit(tx, {
          ...actor,
          action: 'file.delete',
          resource: `file:${fileId}`,
          result: 'success',
          metadata: {
            filename: locked.filename,
            size_bytes: locked.sizeBytes,
            storage_element_id: element.id,
          },
        });
      });
    } catch (error) {
      await journal.abort(fileId).catch(() => {});
      this.metrics.operation('delete', 'failure');
      throw error;
    }
    await element.removeFile(fileId);
    await journal.commit(fileId);
    element.usedBytes -= row.sizeBytes;
    element.files -= 1;
    this.metrics.operation('delete', 'success');
  }

  async search(search: store.FileSearch): Promise<{ items: StoredFile[]; total: number }> {
    const { rows, total } = await store.searchFiles(this.platform.db, search);
    return { items: rows.map((row) => storedFileOf(row.attr)), total };
  }

  async listElements(): Promise<ElementState[]> {
    await this.refreshUsage();
    const states: ElementState[] = [];
    for (const element of this.elements.values()) {
      const row = await store.getElement(this.platform.db, element.id);
      if (row) element.mode = row.mode;
      const { capacityBytes, freeBytes } = await element.space();
      states.push({
        id: element.id,
        mode: element.mode,
        capacity_bytes: capacityBytes,
        used_bytes: element.usedBytes,
        free_bytes: freeBytes,
        files: element.files,
      });
    }
    return states;
  }

  /** PATCH /api/storage-elements/{id}: rw → ro and ro → ar only; persisted (element.json and database). */
  async changeMode(id: string, to: unknown, actor: Actor): Promise<ElementState> {
    const element = this.elements.get(id);
    if (!element) throw FilesErrors.elementNotFound(id);
    if (!isMode(to)) throw FilesErrors.invalid('mode must be one of edit, rw, ro, ar');
    await this.platform.db.begin(async (tx) => {
      const row = await store.lockElementForUpdate(tx, id);
      if (!row) throw FilesErrors.elementNotFound(id);
      const allowed = apiTransitionsFrom(row.mode);
      if (!allowed.includes(to)) {
        throw FilesErrors.transitionNotAllowed(id, row.mode, to, [...allowed]);
      }
      await store.setElementMode(tx, id, to);
      await publish(tx, {
        topic: FilesTopics.storageElementModeChanged,
        key: id,
        payload: { id, from: row.mode, to },
      });
      await appendAudit(tx, {
        ...actor,
        action: 'storage_element.mode_change',
        resource: `storage_element:${id}`,
        result: 'success',
        metadata: { from: row.mode, to },
      });
      await writeElementFile(element.config, { mode: to, configuredMode: row.configuredMode });
    });
    element.mode = to;
    this.metrics.operation('mode_change', 'success');
    return (await this.listElements()).find((state) => state.id === id)!;
  }

  element(id: string): LocalElement {
    const element = this.elements.get(id);
    if (!element) throw FilesErrors.bytesMissing(`on element ${id} (not configured here)`);
    return element;
  }

  /** The writable element with the most free space. */
  private async chooseElement(): Promise<LocalElement> {
    let best: { element: LocalElement; free: number } | undefined;
    let writable = 0;
    for (const element of this.elements.values()) {
      if (!acceptsUploads(element.mode) || !element.journal) continue;
      writable += 1;
      const { freeBytes } = await element.space();
      if (freeBytes > 0 && (!best || freeBytes > best.free)) best = { element, free: freeBytes };
    }
    if (writable === 0) {
      const modes = [...this.elements.values()].map((e) => `${e.id}: ${e.mode}`).join(', ');
      throw FilesErrors.readOnly(`No storage element takes uploads (${modes}); uploads need edit or rw mode`);
    }
    if (!best) throw FilesErrors.full('Every writable storage element is full; nothing was stored');
    return best.element;
  }
}

interface ElementFile {
  id: string;
  mode: Mode;
  configured_mode: Mode;
}

async function readElementFile(config: ElementConfig): Promise<ElementFile | undefined> {
  try {
    return JSON.parse(await readFile(join(config.path, ELEMENT_FILE), 'utf8')) as ElementFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(
      `storage element ${config.id}: ${ELEMENT_FILE} is unreadable: ${(error as Error).message}`,
    );
  }
}

async function writeElementFile(
  config: ElementConfig,
  state: { mode: Mode; configuredMode: Mode },
): Promise<void> {
  const file: ElementFile = { id: config.id, mode: state.mode, configured_mode: state.configuredMode };
  await replaceFileDurably(join(config.path, ELEMENT_FILE), `${JSON.stringify(file, null, 2)}\n`);
}

/**
 * The mode an element boots in. The last mode (element.json on its disk, else the database) stays
 * while the configuration says what it said last time, so a mode set by the API survives a restart;
 * a changed configuration wins (that is how edit → rw and leaving ar are done).
 */
async function registerElement(platform: Platform, config: ElementConfig): Promise<Mode> {
  const onDisk = await readElementFile(config);
  if (onDisk && onDisk.id !== config.id)
    throw new Error(`storage element ${config.id}: ${config.path} belongs to element ${onDisk.id}`);
  const inDb = await store.getElement(platform.db, config.id);
  const last = onDisk
    ? { mode: onDisk.mode, configuredMode: onDisk.configured_mode }
    : inDb
      ? { mode: inDb.mode, configuredMode: inDb.configuredMode }
      : undefined;
  const mode = last && last.configuredMode === config.mode && isMode(last.mode) ? last.mode : config.mode;
  await writeElementFile(config, { mode, configuredMode: config.mode });
  await platform.db.begin(async (tx) => {
    await store.saveElement(tx, {
      id: config.id,
      path: config.path,
      mode,
      configuredMode: config.mode,
      capacityBytes: config.capacityBytes,
    });
    if (last && last.mode !== mode) {
      await appendAudit(tx, {
        actorType: 'system',
        actorId: null,
        action: 'storage_element.mode_configured',
        resource: `storage_element:${config.id}`,
        result: 'success',
        metadata: { from: last.mode, to: mode, by: 'configuration and restart' },
      });
    }
  });
  if (last && last.mode !== mode)
    platform.logger.warn(
      { module: 'files', element: config.id, from: last.mode, to: mode },
      'storage element mode set by configuration',
    );
  return mode;
}

const hasControl = (text: string) =>
  [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

function checkFilename(raw: string): string {
  // Browsers may send a path: keep its last segment.
  const name = raw.split(/[\\/]/).pop()!.trim();
  const problem = textProblem(name);
  if (problem) throw FilesErrors.invalid(`the filename ${problem}`);
  if (name === '' || name === '.' || name === '..') throw FilesErrors.invalid('a filename is required');
  if (name.length > 255) throw FilesErrors.invalid('the filename is longer than 255 characters');
  if (hasControl(name)) throw FilesErrors.invalid('the filename has control characters');
  if (/[\ud800-\udfff]/.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')))
    throw FilesErrors.invalid('the filename has a lone surrogate');
  return name;
}

const MEDIA_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\s*;.*)?$/;

function checkContentType(raw: string): string {
  const value = raw.trim();
  if (!MEDIA_TYPE.test(value) || value.length > 255 || hasControl(value))
    throw FilesErrors.invalid(`"${value.slice(0, 80)}" is not a media type (type/subtype)`);
  return value;
}

const services = new WeakMap<Platform, Promise<FilesService>>();

/** This platform's files service, booted on first use (module start, or another module's call). */
export function filesService(platform: Platform): Promise<FilesService> {
  let service = services.get(platform);
  if (!service) {
    service = FilesService.boot(platform);
    services.set(platform, service);
    service.catch(() => services.delete(platform));
  }
  return service;
}

/** Forgets this platform's service (after stop), so a restart in the same process boots anew. */
export function forgetFilesService(platform: Platform): void {
  services.delete(platform);
}
