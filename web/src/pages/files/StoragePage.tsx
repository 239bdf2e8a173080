import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../app/api.ts';
import { formatBytes, formatInteger } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { ConfirmDialog } from '../../ui/Dialog.tsx';
import { ErrorBanner, Loading, Notice, StatusBadge } from '../../ui/Feedback.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import { SpaceBar } from './SpaceBar.tsx';
import { MODE_LABEL, type Mode, NEXT_MODE, type StorageElement } from './types.ts';
import './files.css';

const CONSEQUENCE: Partial<Record<Mode, string>> = {
  ro: 'Uploads and metadata changes to it will be refused (409); its files stay readable.',
  ar: 'It becomes an archive: read only, for good.',
};

/** Storage elements: mode, space and files; `rw → ro` and `ro → ar` behind a confirmation. */
export default function StoragePage() {
  const { can } = useSession();
  const manage = can('storage:manage');
  const queryClient = useQueryClient();
  const elements = useQuery({
    queryKey: ['storage-elements'],
    queryFn: () => api<StorageElement[]>('/api/storage-elements'),
    refetchInterval: 10_000,
  });
  const [pending, setPending] = useState<{ element: StorageElement; to: Mode } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const change = useMutation({
    mutationFn: ({ element, to }: { element: StorageElement; to: Mode }) =>
      api<StorageElement>(`/api/storage-elements/${encodeURIComponent(element.id)}`, {
        method: 'PATCH',
        body: { mode: to },
      }),
    onSuccess: (element) => {
      setPending(null);
      setDone(`${element.id} is now in mode ${element.mode}.`);
      void queryClient.invalidateQueries({ queryKey: ['storage-elements'] });
    },
  });

  return (
    <Page title="Storage elements">
      <Panel title="Elements">
        <p className="field-hint">
          Modes only move one way through the API: <code>rw → ro</code> and <code>ro → ar</code>.{' '}
          <code>edit → rw</code> and leaving <code>ar</code> are configuration changes (FILES_ELEMENTS) with a
          restart.
        </p>
        {done ? <Notice tone="success">{done}</Notice> : null}
        <ErrorBanner error={elements.error} />
        {elements.isPending ? (
          <Loading />
        ) : (
          <Table
            caption="Storage elements"
            rows={elements.data ?? []}
            rowKey={(row) => row.id}
            columns={[
              { header: 'Element', cell: (row) => <code>{row.id}</code> },
              {
                header: 'Mode',
                cell: (row) => (
                  <span className="mode-cell" title={MODE_LABEL[row.mode]}>
                    <StatusBadge status={row.mode} />{' '}
                    <span className="visually-hidden">{MODE_LABEL[row.mode]}</span>
                  </span>
                ),
              },
              { header: 'Capacity', numeric: true, cell: (row) => formatBytes(row.capacity_bytes) },
              {
                header: 'Space',
                cell: (row) => (
                  <SpaceBar used={row.used_bytes} free={row.free_bytes} capacity={row.capacity_bytes} />
                ),
              },
              { header: 'Files', numeric: true, cell: (row) => formatInteger(row.files) },
              ...(manage
                ? [
                    {
                      header: 'Change mode',
                      cell: (row: StorageElement) => {
                        const to = NEXT_MODE[row.mode];
                        return to ? (
                          <button
                            type="button"
                            onClick={() => {
                              change.reset();
                              setDone(null);
                              setPending({ element: row, to });
                            }}
                          >
                            Make {row.id} {to}
                          </button>
                        ) : (
                          <span className="field-hint">configuration only</span>
                        );
                      },
                    },
                  ]
                : []),
            ]}
          />
        )}
      </Panel>
      <ConfirmDialog
        open={pending !== null}
        title={pending ? `Change ${pending.element.id} to ${pending.to}?` : 'Change mode'}
        danger
        busy={change.isPending}
        confirmLabel={pending ? `Change to ${pending.to}` : 'Change'}
        onCancel={() => setPending(null)}
        onConfirm={() => pending && change.mutate(pending)}
        message={
          pending ? (
            <>
              <p>
                <code>{pending.element.id}</code> goes from <strong>{pending.element.mode}</strong> to{' '}
                <strong>{pending.to}</strong>. {CONSEQUENCE[pending.to]}
              </p>
              <p>
                <strong>This is one way.</strong> The panel cannot change it back: returning to{' '}
                {pending.element.mode} takes a configuration change and a restart.
              </p>
              <ErrorBanner error={change.error} />
            </>
          ) : null
        }
      />
    </Page>
  );
}
