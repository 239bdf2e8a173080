import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useRef, useState } from 'react';
import { api } from '../../app/api.ts';
import { formatBytes, formatInteger, formatPercent, formatTime } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { useUrlFilters } from '../../app/url-filters.ts';
import { Dialog } from '../../ui/Dialog.tsx';
import { ErrorBanner, Loading, Notice } from '../../ui/Feedback.tsx';
import { TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Pager, Table } from '../../ui/Table.tsx';
import type { FileAttr, FileSearch, StoredFile } from './types.ts';
import { uploadFile } from './upload.ts';
import './files.css';

const PAGE_SIZE = 20;
const FILTERS = ['q', 'filename', 'filename_prefix', 'content_type', 'tag'] as const;

const downloadUrl = (id: string) => `/api/files/${encodeURIComponent(id)}`;

/** Files: search (the API's filters and paging), upload with progress, download, metadata. */
export default function FilesPage() {
  const { can } = useSession();
  const { values: query, page, key, applyForm, setPage, clear } = useUrlFilters(FILTERS);
  const search = useQuery({
    queryKey: ['files', query, page],
    queryFn: () => api<FileSearch>('/api/files', { query: { ...query, page, pageSize: PAGE_SIZE } }),
    placeholderData: keepPreviousData,
  });
  const [details, setDetails] = useState<StoredFile | null>(null);

  return (
    <Page title="Files">
      {can('files:write') ? <UploadPanel /> : null}
      <Panel title="Search">
        <form onSubmit={applyForm} aria-label="Search files" key={key}>
          <div className="form-row">
            <TextField
              label="Full text"
              name="q"
              defaultValue={query.q}
              hint="Filename, tags and description"
            />
            <TextField label="Filename (exact)" name="filename" defaultValue={query.filename} />
            <TextField
              label="Filename starts with"
              name="filename_prefix"
              defaultValue={query.filename_prefix}
            />
          </div>
          <div className="form-row">
            <TextField
              label="Content type"
              name="content_type"
              defaultValue={query.content_type}
              placeholder="application/pdf"
            />
            <TextField label="Tag" name="tag" defaultValue={query.tag} />
          </div>
          <div className="row-actions">
            <button type="submit" className="primary">
              Search
            </button>
            <button type="button" onClick={clear}>
              Clear
            </button>
          </div>
        </form>
      </Panel>
      <Panel title="Results">
        <ErrorBanner error={search.error} />
        {search.isPending ? (
          <Loading />
        ) : (
          <>
            <p className="field-hint" aria-live="polite">
              {formatInteger(search.data?.total ?? 0)}{' '}
              {search.data?.total === 1 ? 'file matches' : 'files match'}
            </p>
            {(search.data?.items.length ?? 0) === 0 ? (
              <p>No file matches.</p>
            ) : (
              <Table
                caption="Files found"
                rows={search.data?.items ?? []}
                rowKey={(row) => row.file_id}
                empty="No file matches."
                columns={[
                  {
                    header: 'Filename',
                    cell: (row) => (
                      <a href={downloadUrl(row.file_id)} download={row.filename}>
                        {row.filename}
                      </a>
                    ),
                  },
                  { header: 'Type', cell: (row) => row.content_type },
                  { header: 'Size', numeric: true, cell: (row) => formatBytes(row.size_bytes) },
                  { header: 'Element', cell: (row) => <code>{row.storage_element_id}</code> },
                  { header: 'Created', cell: (row) => formatTime(row.created_at) },
                  {
                    header: 'Actions',
                    cell: (row) => (
                      <div className="row-actions">
                        <a className="button" href={downloadUrl(row.file_id)} download={row.filename}>
                          Download <span className="visually-hidden">{row.filename}</span>
                        </a>
                        <button type="button" onClick={() => setDetails(row)}>
                          Metadata <span className="visually-hidden">of {row.filename}</span>
                        </button>
                      </div>
                    ),
                  },
                ]}
              />
            )}
            <Pager page={page} hasNext={page * PAGE_SIZE < (search.data?.total ?? 0)} onPage={setPage} />
          </>
        )}
      </Panel>
      <MetadataDialog file={details} onClose={() => setDetails(null)} />
    </Page>
  );
}

function UploadPanel() {
  const queryClient = useQueryClient();
  const fileInput = useRef<HTMLInputElement>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [metadataError, setMetadataError] = useState<string | undefined>();
  const [stored, setStored] = useState<StoredFile | null>(null);
  const [busy, setBusy] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const file = fileInput.current?.files?.[0];
    setError(null);
    setStored(null);
    setMetadataError(undefined);
    if (!file) {
      setError(new Error('Choose a file first.'));
      return;
    }
    const metadata: Record<string, unknown> = {};
    const description = String(form.get('description') ?? '').trim();
    if (description) metadata.description = description;
    const tags = String(form.get('tags') ?? '')
      .split(',')
      .map((tag) => tag.trim())
      .filter(Boolean);
    if (tags.length > 0) metadata.tags = tags;
    const extra = String(form.get('extra') ?? '').trim();
    if (extra) {
      try {
        const parsed = JSON.parse(extra) as unknown;
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        Object.assign(metadata, parsed);
      } catch {
        setMetadataError('Must be a JSON object, e.g. {"booking": "42"}');
        return;
      }
    }
    setBusy(true);
    setProgress(0);
    try {
      const result = await uploadFile(file, metadata, setProgress);
      setStored(result);
      void queryClient.invalidateQueries({ queryKey: ['files'] });
      void queryClient.invalidateQueries({ queryKey: ['storage-elements'] });
    } catch (failure) {
      setError(failure);
      setProgress(null);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Panel title="Upload">
      <form onSubmit={onSubmit} aria-label="Upload a file">
        <div className="form-row">
          <div className="field">
            <label htmlFor="upload-file">File</label>
            <input id="upload-file" ref={fileInput} type="file" name="file" required />
          </div>
          <TextField label="Description" name="description" />
          <TextField label="Tags" name="tags" hint="Separated by commas" />
        </div>
        <TextField
          label="Other metadata (JSON)"
          name="extra"
          placeholder='{"booking": "42"}'
          error={metadataError}
        />
        <button type="submit" className="primary" disabled={busy}>
          Upload
        </button>
        {progress !== null ? (
          <div className="upload-progress">
            <progress
              id="upload-progress"
              max={100}
              value={Math.round(progress * 100)}
              aria-label="Upload progress"
            >
              {formatPercent(progress)}
            </progress>
            <span aria-live="polite">{busy ? formatPercent(progress) : 'Uploaded'}</span>
          </div>
        ) : null}
      </form>
      <ErrorBanner error={error} />
      {stored ? (
        <Notice tone="success">
          Stored <a href={downloadUrl(stored.file_id)}>{stored.filename}</a> ({formatBytes(stored.size_bytes)}
          ) on <code>{stored.storage_element_id}</code>.
        </Notice>
      ) : null}
    </Panel>
  );
}

function MetadataDialog({ file, onClose }: { file: StoredFile | null; onClose: () => void }) {
  const attr = useQuery({
    queryKey: ['file-metadata', file?.file_id],
    queryFn: () => api<FileAttr>(`${downloadUrl(file!.file_id)}/metadata`),
    enabled: file !== null,
  });
  return (
    <Dialog open={file !== null} title={file ? `Metadata of ${file.filename}` : 'Metadata'} onClose={onClose}>
      <ErrorBanner error={attr.error} />
      {attr.data ? (
        <>
          <dl className="file-meta">
            <dt>File id</dt>
            <dd>
              <code>{attr.data.file_id}</code>
            </dd>
            <dt>Type</dt>
            <dd>{attr.data.content_type}</dd>
            <dt>Size</dt>
            <dd>
              {formatBytes(attr.data.size_bytes)} ({formatInteger(attr.data.size_bytes)} bytes)
            </dd>
            <dt>Checksum</dt>
            <dd>
              <code>{attr.data.checksum}</code>
            </dd>
            <dt>Element</dt>
            <dd>
              <code>{attr.data.storage_element_id}</code>
            </dd>
            <dt>Created</dt>
            <dd>{formatTime(attr.data.created_at)}</dd>
            <dt>Updated</dt>
            <dd>{formatTime(attr.data.updated_at)}</dd>
          </dl>
          <h3>Metadata (attr.json)</h3>
          <pre className="json-block">{JSON.stringify(attr.data.metadata, null, 2)}</pre>
        </>
      ) : (
        <Loading />
      )}
      <div className="dialog-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
