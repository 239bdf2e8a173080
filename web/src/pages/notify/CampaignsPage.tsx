import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../../app/api.ts';
import { formatInteger, formatTime } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { ErrorBanner, Loading, StatusBadge } from '../../ui/Feedback.tsx';
import { SelectField, TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import { CampaignProgress } from './CampaignProgress.tsx';
import { newRow, SegmentBuilder, type SegmentDraft, toSegment } from './SegmentBuilder.tsx';
import type { Campaign, CampaignStatus, Channel, TemplateSummary } from './types.ts';
import './notify.css';

const STATUSES: CampaignStatus[] = ['draft', 'scheduled', 'sending', 'sent', 'cancelled'];

export default function CampaignsPage() {
  const { can } = useSession();
  const [status, setStatus] = useState('');
  const list = useQuery({
    queryKey: ['campaigns', status],
    queryFn: () =>
      api<{ items: Campaign[] }>('/api/admin/bulk', { query: { status: status || undefined, limit: 100 } }),
    // Campaigns move while they send: refresh the list while any is sending or scheduled.
    refetchInterval: (query) =>
      query.state.data?.items.some((c) => c.status === 'sending' || c.status === 'scheduled') ? 3000 : false,
  });
  return (
    <Page title="Campaigns">
      {can('notify:manage') ? <NewCampaign /> : null}
      <Panel
        title="All campaigns"
        actions={
          <SelectField
            label="Status"
            value={status}
            onChange={(e) => setStatus(e.target.value)}
            options={[{ value: '', label: 'any' }, ...STATUSES]}
          />
        }
      >
        <ErrorBanner error={list.error} />
        {list.isPending ? (
          <Loading />
        ) : (
          <Table
            caption="Campaigns, newest first"
            rows={list.data?.items ?? []}
            rowKey={(c) => c.id}
            empty="No campaigns yet."
            columns={[
              { header: 'Name', cell: (c) => <Link to={`/campaigns/${c.id}`}>{c.name}</Link> },
              { header: 'Status', cell: (c) => <StatusBadge status={c.status} /> },
              { header: 'Channel', cell: (c) => c.channel },
              { header: 'Template', cell: (c) => <span className="mono">{c.template_id}</span> },
              {
                header: 'Recipients',
                numeric: true,
                cell: (c) => formatInteger(c.fanout.recipients || c.recipients_estimate),
              },
              {
                header: 'Progress',
                cell: (c) => <CampaignProgress campaign={c} compact />,
              },
              { header: 'Send at', cell: (c) => formatTime(c.send_at ?? c.started_at) },
              { header: 'Created', cell: (c) => formatTime(c.created_at) },
            ]}
          />
        )}
      </Panel>
    </Page>
  );
}

function NewCampaign() {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [templateId, setTemplateId] = useState('');
  const [channel, setChannel] = useState<Channel>('email');
  const [category, setCategory] = useState('marketing');
  const [draft, setDraft] = useState<SegmentDraft>({ op: 'all', rows: [newRow('has_channel', 'email')] });
  const [count, setCount] = useState<number | null>(null);
  const templates = useQuery({
    queryKey: ['templates', 'all'],
    queryFn: () => api<{ items: TemplateSummary[] }>('/api/templates', { query: { limit: 200 } }),
  });
  const chosen = templates.data?.items.find((t) => t.id === templateId);
  const channels = chosen ? (Object.keys(chosen.definition.channels) as Channel[]) : [];
  const create = useMutation({
    mutationFn: () =>
      api<{ id: number }>('/api/admin/bulk', {
        method: 'POST',
        body: { name, segment: toSegment(draft), template_id: templateId, channel, category },
      }),
    onSuccess: async (created) => {
      await client.invalidateQueries({ queryKey: ['campaigns'] });
      navigate(`/campaigns/${created.id}`);
    },
  });
  const missing = !name.trim()
    ? 'Give the campaign a name.'
    : !templateId
      ? 'Choose a template.'
      : !channels.includes(channel)
        ? `The template has no ${channel} part.`
        : draft.rows.length === 0
          ? 'Add a condition to the audience.'
          : null;
  return (
    <Panel title="New campaign">
      <form
        className="campaign-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (!missing) create.mutate();
        }}
      >
        <div className="form-row">
          <TextField
            label="Name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            maxLength={200}
          />
          <SelectField
            label="Template"
            value={templateId}
            onChange={(e) => {
              setTemplateId(e.target.value);
              const t = templates.data?.items.find((x) => x.id === e.target.value);
              const first = t ? (Object.keys(t.definition.channels)[0] as Channel | undefined) : undefined;
              if (first && t && !(channel in t.definition.channels)) setChannel(first);
            }}
            options={[
              { value: '', label: templates.isPending ? 'Loading…' : 'Choose…' },
              ...(templates.data?.items ?? []).map((t) => ({ value: t.id, label: `${t.name} (${t.id})` })),
            ]}
          />
          <SelectField
            label="Channel"
            value={channel}
            onChange={(e) => setChannel(e.target.value as Channel)}
            options={(channels.length ? channels : (['email', 'push', 'sms'] as Channel[])).map((c) => c)}
          />
          <TextField
            label="Category"
            hint="For opt-outs and quiet hours; never transactional"
            value={category}
            onChange={(e) => setCategory(e.target.value)}
          />
        </div>
        <ErrorBanner error={templates.error} />
        <SegmentBuilder draft={draft} onChange={setDraft} onCount={setCount} />
        <ErrorBanner error={create.error} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={Boolean(missing) || create.isPending}>
            Create draft
          </button>
          <small className="field-hint">
            {missing ??
              `A draft for ${count === null ? 'the segment' : `${formatInteger(count)} recipients`}: preview, then send or schedule it.`}
          </small>
        </div>
      </form>
    </Panel>
  );
}
