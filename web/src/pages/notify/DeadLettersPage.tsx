import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../app/api.ts';
import { formatInteger, formatTime } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { ConfirmDialog } from '../../ui/Dialog.tsx';
import { ErrorBanner, Loading, Notice } from '../../ui/Feedback.tsx';
import { SelectField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import { CHANNELS, type DeadLetter } from './types.ts';
import './notify.css';

export default function DeadLettersPage() {
  const { can } = useSession();
  const client = useQueryClient();
  const [channel, setChannel] = useState('');
  const [confirm, setConfirm] = useState<DeadLetter | 'all' | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ['dead-letters', channel],
    queryFn: () =>
      api<{ dead_letters: DeadLetter[]; next: number | null }>('/api/notify/dead-letters', {
        query: { channel: channel || undefined, limit: 200 },
      }),
    refetchInterval: 10_000,
  });
  const retry = useMutation({
    mutationFn: (which: DeadLetter | 'all') =>
      which === 'all'
        ? api<{ retried: number }>('/api/notify/dead-letters/retry', {
            method: 'POST',
            body: channel ? { channel } : {},
          })
        : api<{ retried: number }>(`/api/notify/dead-letters/${which.id}/retry`, { method: 'POST' }),
    onSuccess: (result) =>
      setDone(
        `${formatInteger(result.retried)} dead letter${result.retried === 1 ? '' : 's'} back in the queue.`,
      ),
    onSettled: async () => {
      setConfirm(null);
      await client.invalidateQueries({ queryKey: ['dead-letters'] });
    },
  });
  const manage = can('notify:manage');
  const letters = list.data?.dead_letters ?? [];
  return (
    <Page
      title="Dead letters"
      actions={
        manage ? (
          <button
            type="button"
            className="primary"
            disabled={letters.length === 0}
            onClick={() => setConfirm('all')}
          >
            Retry all{channel ? ` (${channel})` : ''}
          </button>
        ) : null
      }
    >
      <Panel
        title="Failed for good"
        actions={
          <SelectField
            label="Channel"
            value={channel}
            onChange={(e) => setChannel(e.target.value)}
            options={[{ value: '', label: 'any' }, ...CHANNELS]}
          />
        }
      >
        <ErrorBanner error={list.error ?? retry.error} />
        {done ? <Notice tone="success">{done}</Notice> : null}
        {list.isPending ? (
          <Loading />
        ) : (
          <Table
            caption="Dead letters, newest first"
            rows={letters}
            rowKey={(d) => d.id}
            empty="No dead letters."
            columns={[
              { header: 'Id', numeric: true, cell: (d) => d.id },
              { header: 'Failed', cell: (d) => formatTime(d.failed_at ?? d.created_at) },
              { header: 'Channel', cell: (d) => d.channel },
              { header: 'Recipient', cell: (d) => <span className="mono wrap">{d.recipient}</span> },
              { header: 'Attempts', numeric: true, cell: (d) => d.attempts },
              { header: 'Provider', cell: (d) => d.provider ?? '—' },
              { header: 'Error', cell: (d) => d.last_error ?? '—' },
              ...(manage
                ? [
                    {
                      header: 'Actions',
                      cell: (d: DeadLetter) => (
                        <button
                          type="button"
                          aria-label={`Retry dead letter ${d.id} to ${d.recipient}`}
                          onClick={() => setConfirm(d)}
                        >
                          Retry
                        </button>
                      ),
                    },
                  ]
                : []),
            ]}
          />
        )}
      </Panel>
      <ConfirmDialog
        open={confirm !== null}
        title={confirm === 'all' ? 'Retry every dead letter?' : 'Retry this dead letter?'}
        message={
          confirm === 'all'
            ? `All ${channel ? `${channel} ` : ''}dead letters go back in the queue with fresh attempts.`
            : confirm
              ? `Delivery ${confirm.id} to ${confirm.recipient} goes back in the queue with fresh attempts.`
              : ''
        }
        confirmLabel="Retry"
        busy={retry.isPending}
        onConfirm={() => confirm && retry.mutate(confirm)}
        onCancel={() => setConfirm(null)}
      />
    </Page>
  );
}
