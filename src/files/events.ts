/**
 * Outbox topics of the files module: the discovery notices of seed 002. Each is written in the
 * transaction that changes the cache row it announces.
 */
export const FilesTopics = {
  /** A file is durable on its element and in the cache: {fileId, storageElementId, sizeBytes, checksum}. */
  fileStored: 'file.stored',
  /** A file was deleted, or an upload rolled back after its row was written: {fileId, reason}. */
  fileDeleted: 'file.deleted',
  /** description/tags/custom fields changed: {fileId}. */
  fileMetadataChanged: 'file.metadata_changed',
  /** {id, from, to} */
  storageElementModeChanged: 'storage_element.mode_changed',
} as const;
