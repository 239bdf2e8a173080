import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { api } from '../../app/api.ts';
import { formatInteger, formatTime } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { ConfirmDialog } from '../../ui/Dialog.tsx';
import { ErrorBanner, Loading, Notice, Stat, StatusBadge } from '../../ui/Feedback.tsx';
import { TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import { CampaignProgress, progressOf } from './CampaignProgress.tsx';
import type { Campaign, Preview } from './types.ts';
import './notify.css';

/** A datetime-local value (the browser's zone) as an ISO instant. */
const toInstant = (local: string) => new Date(local).toISOString();

export default function CampaignPage() {
  const id = Number(useParams().id);
  const { can } = useSession();
  const client = useQueryClient();
  const campaign = useQuery({
    queryKey: ['campaign', id],
    queryFn: () => api<Campaign>(`/api/admin/bulk/${id}`),
    enabled: Number.isSafeInteger(id) && id > 0,
    // Poll every second while it sends (the progress bar), every 5 s while it waits for its time.
    refetchInterval: (query) => {
      const c = query.state.data;
      if (!c) return false;
      if (c.status === 'sending' || (c.status === 'sent' && !progressOf(c).finished)) return 1000;
      if (c.status === 'scheduled') return 5000;
      return false;
    },
  });
  const [sendAt, setSendAt] = useState('');
  const [confirm, setConfirm] = useState<'send' | 'schedule' | 'cancel' | null>(null);
  const refresh = async () => {
    await client.invalidateQueries({ queryKey: ['campaign', id] });
    await client.invalidateQueries({ queryKey: ['campaigns'] });
  };
  const preview = useMutation({
    mutationFn: () => api<Preview>(`/api/admin/bulk/${id}/preview`, { method: 'POST', body: { sample: 3 } }),
  });
  const send = useMutation({
    mutationFn: (at: string | undefined) =>
      api<Campaign>(`/api/admin/bulk/${id}/send`, { method: 'POST', body: at ? { send_at: at } : {} }),
    onSettled: async () => {
      setConfirm(null);
      await refresh();
    },
  });
  const cancel = useMutation({
    mutationFn: () =>
      api<{ cancelled_deliveries: number }>(`/api/admin/bulk/${id}/cancel`, { method: 'POST' }),
    onSettled: async () => {
      setConfirm(null);
      await refresh();
    },
  });

  if (campaign.isPending)
    return (
      <Page title="Campaign">
        <ErrorBanner error={campaign.error} />
        {campaign.isError ? null : <Loading />}
      </Page>
    );
  if (campaign.isError)
    return (
      <Page title="Campaign">
        <ErrorBanner error={campaign.error} />
      </Page>
    );
  const c = campaign.data;
  const manage = can('notify:manage');
  const canSend = manage && (c.status === 'draft' || c.status === 'scheduled');
  const canCancel = manage && c.status !== 'sent' && c.status !== 'cancelled';
  const counts = c.progress ?? {};
  const scheduleAt = sendAt ? new Date(sendAt).getTime() : null;
  const scheduleError =
    scheduleAt === null
      ? undefined
      : !(scheduleAt > Date.now())
        ? 'Choose a time in the future.'
        : scheduleAt > Date.now() + 365 * 86_400_000
          ? 'At most a year ahead.'
          : undefined;

  return (
    <Page title={`Campaign: ${c.name}`} actions={<Link to="/campaigns">All campaigns</Link>}>
      <Panel title="Status">
        <dl className="stats">
          <Stat label="Status" value={<StatusBadge status={c.status} />} />
          <Stat label="Channel" value={c.channel} />
          <Stat
            label="Template"
            value={<span className="mono">{c.template_id}</span>}
            hint={c.template_version ? `version ${c.template_version}` : 'version pinned at send'}
          />
          <Stat label="Segment size at creation" value={formatInteger(c.recipients_estimate)} />
          <Stat label="Send at" value={formatTime(c.send_at)} />
          <Stat label="Finished" value={formatTime(c.finished_at ?? c.cancelled_at)} />
        </dl>
        <CampaignProgress campaign={c} />
        {Object.keys(counts).length ? (
          <p className="campaign-counts">
            {Object.entries(counts)
              .map(([status, n]) => `${status} ${formatInteger(n)}`)
              .join(' · ')}{' '}
            {c.notification_id ? (
              <Link to={`/deliveries?campaign_id=${c.id}`}>See the deliveries</Link>
            ) : null}
          </p>
        ) : null}
        <ErrorBanner error={send.error ?? cancel.error} />
        {cancel.data ? (
          <Notice tone="success">
            Cancelled; {formatInteger(cancel.data.cancelled_deliveries)} pending deliveries stopped.
          </Notice>
        ) : null}
        {manage ? (
          <div className="form-actions campaign-actions">
            {canSend ? (
              <button type="button" className="primary" onClick={() => setConfirm('send')}>
                Send now
              </button>
            ) : null}
            {canSend ? (
              <>
                <TextField
                  label="Schedule at"
                  type="datetime-local"
                  value={sendAt}
                  onChange={(e) => setSendAt(e.target.value)}
                  error={scheduleError}
                  hint="Your local time; at most a year ahead"
                />
                <button
                  type="button"
                  disabled={!sendAt || Boolean(scheduleError)}
                  onClick={() => setConfirm('schedule')}
                >
                  Schedule
                </button>
              </>
            ) : null}
            {canCancel ? (
              <button type="button" className="danger" onClick={() => setConfirm('cancel')}>
                Cancel campaign
              </button>
            ) : null}
          </div>
        ) : null}
      </Panel>

      {manage ? (
        <Panel
          title="Preview"
          actions={
            <button type="button" onClick={() => preview.mutate()} disabled={preview.isPending}>
              {preview.data ? 'Preview again' : 'Preview'}
            </button>
          }
        >
          <ErrorBanner error={preview.error} />
          {preview.data ? <PreviewSamples preview={preview.data} /> : <p>Render it for sample recipients.</p>}
        </Panel>
      ) : null}

      <Panel title="Segment">
        <pre className="mono segment-json">{JSON.stringify(c.segment, null, 2)}</pre>
      </Panel>

      <ConfirmDialog
        open={confirm === 'send'}
        title="Send the campaign now?"
        message={`It goes to the segment's ${formatInteger(c.recipients_estimate)} recipients (counted again at fan-out).`}
        confirmLabel="Send"
        busy={send.isPending}
        onConfirm={() => send.mutate(undefined)}
        onCancel={() => setConfirm(null)}
      />
      <ConfirmDialog
        open={confirm === 'schedule'}
        title="Schedule the campaign?"
        message={sendAt ? `It will be sent at ${formatTime(toInstant(sendAt))}.` : ''}
        confirmLabel="Schedule"
        busy={send.isPending}
        onConfirm={() => send.mutate(toInstant(sendAt))}
        onCancel={() => setConfirm(null)}
      />
      <ConfirmDialog
        open={confirm === 'cancel'}
        title="Cancel the campaign?"
        message="What is not sent yet is stopped; what was sent stays sent. This cannot be undone."
        confirmLabel="Cancel campaign"
        danger
        busy={cancel.isPending}
        onConfirm={() => cancel.mutate()}
        onCancel={() => setConfirm(null)}
      />
    </Page>
  );
}

function PreviewSamples({ preview }: { preview: Preview }) {
  return (
    <>
      <p>
        Template <span className="mono">{preview.template_id}</span> version {preview.version},{' '}
        {preview.channel}.
      </p>
      <Table
        caption="Preview for sample recipients"
        rows={preview.samples}
        rowKey={(s) => s.user_id}
        empty="The segment has no one yet."
        columns={[
          { header: 'User', numeric: true, cell: (s) => s.user_id },
          { header: 'Recipient', cell: (s) => s.recipient ?? '— (no address)' },
          {
            header: 'Content',
            cell: (s) =>
              s.error ? (
                <span className="field-error">{s.error}</span>
              ) : (
                <dl className="preview-parts">
                  {Object.entries(s.parts ?? {})
                    .filter(([part]) => part !== 'html')
                    .map(([part, text]) => (
                      <div key={part}>
                        <dt>{part}</dt>
                        <dd>{text}</dd>
                      </div>
                    ))}
                </dl>
              ),
          },
          { header: 'Not sent because', cell: (s) => s.suppressed ?? '—' },
        ]}
      />
    </>
  );
}
