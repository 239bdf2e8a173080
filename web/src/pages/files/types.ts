/** What the Files API answers (docs/files.md): storage elements and stored files. */
export type Mode = 'edit' | 'rw' | 'ro' | 'ar';

export interface StorageElement {
  id: string;
  mode: Mode;
  capacity_bytes: number;
  used_bytes: number;
  free_bytes: number;
  files: number;
}

export interface StoredFile {
  file_id: string;
  filename: string;
  content_type: string;
  size_bytes: number;
  checksum: string;
  storage_element_id: string;
  created_at: string;
  metadata: Record<string, unknown>;
}

export interface FileAttr extends StoredFile {
  updated_at: string;
}

export interface FileSearch {
  items: StoredFile[];
  total: number;
  page: number;
  pageSize: number;
}

/** The only transitions `PATCH /api/storage-elements/{id}` makes; the rest are configuration changes. */
export const NEXT_MODE: Partial<Record<Mode, Mode>> = { rw: 'ro', ro: 'ar' };

export const MODE_LABEL: Record<Mode, string> = {
  edit: 'edit (read, write, delete)',
  rw: 'rw (read, write)',
  ro: 'ro (read only)',
  ar: 'ar (archive)',
};
