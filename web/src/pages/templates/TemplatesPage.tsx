import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../../app/api.ts';
import { formatTime } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { ErrorBanner, Loading } from '../../ui/Feedback.tsx';
import { TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { Pager, Table } from '../../ui/Table.tsx';
import {
  CHANNEL_LABEL,
  CHANNELS,
  EMPTY_PARTS,
  problemsOf,
  type Template,
  type TemplatePage,
} from './types.ts';
import './templates.css';

const PAGE_SIZE = 25;
const ID_PATTERN = '[a-z0-9][a-z0-9._\\-]{0,63}';

/** Templates by id, a page at a time (cursor paging), and a form to start a new one. */
export default function TemplatesPage() {
  const { can } = useSession();
  // cursors[i] is the `after` of page i + 1 (undefined for the first page).
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const page = cursors.length;
  const after = cursors[page - 1];
  const list = useQuery({
    queryKey: ['templates', 'list', after],
    queryFn: () => api<TemplatePage>('/api/templates', { query: { limit: PAGE_SIZE, after } }),
  });

  return (
    <Page title="Templates">
      {can('notify:manage') ? <CreateTemplate /> : null}
      <Panel title="All templates">
        <ErrorBanner error={list.error} />
        {list.isPending ? (
          <Loading />
        ) : (
          <>
            <Table<Template>
              caption="Templates"
              rows={list.data?.items ?? []}
              rowKey={(t) => t.id}
              empty="No templates yet."
              columns={[
                {
                  header: 'Name',
                  cell: (t) => <Link to={`/templates/${encodeURIComponent(t.id)}`}>{t.name}</Link>,
                },
                { header: 'Id', cell: (t) => <span className="mono">{t.id}</span> },
                {
                  header: 'Channels',
                  cell: (t) =>
                    CHANNELS.filter((c) => t.definition.channels[c])
                      .map((c) => CHANNEL_LABEL[c])
                      .join(', '),
                },
                { header: 'Version', numeric: true, cell: (t) => t.current_version },
                { header: 'Updated', cell: (t) => formatTime(t.updated_at) },
              ]}
            />
            <Pager
              page={page}
              hasNext={Boolean(list.data?.next_after)}
              onPage={(next) =>
                setCursors((c) =>
                  next > c.length ? [...c, list.data?.next_after ?? undefined] : c.slice(0, next),
                )
              }
            />
          </>
        )}
      </Panel>
    </Page>
  );
}

function CreateTemplate() {
  const navigate = useNavigate();
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const create = useMutation({
    mutationFn: () =>
      api<Template>('/api/templates', {
        method: 'POST',
        body: {
          ...(id ? { id } : {}),
          name,
          note: 'created in the admin panel',
          variables: [{ name: 'name', sample: 'Anna' }],
          channels: { email: EMPTY_PARTS.email },
        },
      }),
    onSuccess: (created) => navigate(`/templates/${encodeURIComponent(created.id)}`),
  });
  const idError =
    create.error && (create.error as { code?: string }).code === 'NOTIFY_TEMPLATE_EXISTS'
      ? 'This id is taken'
      : undefined;
  return (
    <Panel title="New template">
      <form
        className="form-row"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <TextField
          label="Id"
          hint="Lowercase letters, digits, . _ - (generated when empty)"
          value={id}
          pattern={ID_PATTERN}
          maxLength={64}
          error={idError}
          onChange={(e) => setId(e.target.value)}
        />
        <TextField
          label="Name"
          value={name}
          required
          maxLength={200}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="primary" disabled={create.isPending}>
          Create template
        </button>
      </form>
      {idError || problemsOf(create.error).length ? null : <ErrorBanner error={create.error} />}
    </Panel>
  );
}
