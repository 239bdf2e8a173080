import { ApiError, csrfHeaders } from '../../app/api.ts';
import type { StoredFile } from './types.ts';

/**
 * `POST /api/files` as multipart (`file`, then an optional `metadata` JSON part) over XMLHttpRequest,
 * since fetch cannot report upload progress. `onProgress` gets a ratio 0…1. Errors come back as
 * `ApiError`, like every other call of the panel.
 */
export function uploadFile(
  file: File,
  metadata: Record<string, unknown> | undefined,
  onProgress: (ratio: number) => void,
  signal?: AbortSignal,
): Promise<StoredFile> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    // The metadata first: the server then has it before the bytes arrive.
    if (metadata && Object.keys(metadata).length > 0) form.append('metadata', JSON.stringify(metadata));
    form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/files');
    xhr.setRequestHeader('accept', 'application/json');
    for (const [name, value] of Object.entries(csrfHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body: unknown;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        body = undefined;
      }
      if (xhr.status === 201) {
        onProgress(1);
        resolve(body as StoredFile);
        return;
      }
      const error = (body ?? {}) as { code?: string; message?: string; details?: unknown };
      reject(
        new ApiError(
          xhr.status,
          error.code ?? String(xhr.status),
          error.message ?? (xhr.statusText || 'Upload failed'),
          error.details,
        ),
      );
    };
    xhr.onerror = () => reject(new Error('The upload failed: the connection was lost'));
    xhr.onabort = () => reject(new Error('The upload was cancelled'));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(form);
  });
}
