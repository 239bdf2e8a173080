import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { api } from '../../app/api.ts';
import { formatTime } from '../../app/format.ts';
import { ConfirmDialog } from '../../ui/Dialog.tsx';
import { ErrorBanner, Loading, Notice, StatusBadge } from '../../ui/Feedback.tsx';
import { SelectField } from '../../ui/Field.tsx';
import { Panel } from '../../ui/Page.tsx';
import { Table } from '../../ui/Table.tsx';
import { loadCodeMirror } from './CodeEditor.tsx';
import type { PartLanguage } from './codemirror.ts';
import {
  CHANNEL_LABEL,
  CHANNELS,
  type Diff,
  PARTS,
  partOf,
  type Template,
  type Version,
  type VersionSummary,
  who,
} from './types.ts';

const enc = encodeURIComponent;

/** Versions (who, when, note), view one, compare two side by side, roll back to one. */
export function History({ template, canManage }: { template: Template; canManage: boolean }) {
  const queryClient = useQueryClient();
  const versions = useQuery({
    queryKey: ['templates', template.id, 'versions'],
    queryFn: () => api<VersionSummary[]>(`/api/templates/${enc(template.id)}/versions`),
  });
  const current = template.current_version;
  const [from, setFrom] = useState(Math.max(1, current - 1));
  const [to, setTo] = useState(current);
  const [compare, setCompare] = useState<{ from: number; to: number } | null>(null);
  const [rollbackTo, setRollbackTo] = useState<number | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const rollback = useMutation({
    mutationFn: (version: number) =>
      api<Template>(`/api/templates/${enc(template.id)}/rollback`, { method: 'POST', body: { version } }),
    onSuccess: async (saved, version) => {
      setRollbackTo(null);
      setDone(`Rolled back to version ${version}: saved as version ${saved.current_version}.`);
      queryClient.setQueryData(['templates', template.id], saved);
      await queryClient.invalidateQueries({ queryKey: ['templates'] });
    },
  });

  const options = (versions.data ?? []).map((v) => ({ value: String(v.version), label: `v${v.version}` }));

  return (
    <Panel title="Version history">
      {done ? <Notice tone="success">{done}</Notice> : null}
      <ErrorBanner error={versions.error ?? rollback.error} />
      {versions.isPending ? (
        <Loading />
      ) : (
        <Table
          caption="Versions, newest first"
          rows={versions.data ?? []}
          rowKey={(v) => v.version}
          columns={[
            {
              header: 'Version',
              cell: (v) => (
                <>
                  v{v.version} {v.version === current ? <StatusBadge status="current" /> : null}
                </>
              ),
            },
            { header: 'Saved', cell: (v) => formatTime(v.created_at) },
            { header: 'By', cell: (v) => who(v.created_by) },
            { header: 'Note', cell: (v) => v.note ?? '' },
            {
              header: 'Actions',
              cell: (v) => (
                <span className="tpl-actions">
                  <Link to={`/templates/${enc(template.id)}?version=${v.version}`}>View v{v.version}</Link>
                  {canManage && v.version !== current ? (
                    <button type="button" onClick={() => setRollbackTo(v.version)}>
                      Roll back to v{v.version}
                    </button>
                  ) : null}
                </span>
              ),
            },
          ]}
        />
      )}
      {options.length > 1 ? (
        <form
          className="form-row tpl-compare"
          onSubmit={(e) => {
            e.preventDefault();
            setCompare({ from, to });
          }}
        >
          <SelectField
            label="Compare from"
            options={options}
            value={String(from)}
            onChange={(e) => setFrom(Number(e.target.value))}
          />
          <SelectField
            label="to"
            options={options}
            value={String(to)}
            onChange={(e) => setTo(Number(e.target.value))}
          />
          <button type="submit">Show diff</button>
        </form>
      ) : null}
      {compare ? <DiffView templateId={template.id} from={compare.from} to={compare.to} /> : null}
      <ConfirmDialog
        open={rollbackTo !== null}
        title={`Roll back to version ${rollbackTo ?? ''}?`}
        message={
          <p>
            A new version {current + 1} is saved with the definition of version {rollbackTo}. No version is
            changed or deleted; notifications already queued keep the version they pinned.
          </p>
        }
        confirmLabel={`Roll back to v${rollbackTo ?? ''}`}
        busy={rollback.isPending}
        onConfirm={() => rollbackTo !== null && rollback.mutate(rollbackTo)}
        onCancel={() => setRollbackTo(null)}
      />
    </Panel>
  );
}

function DiffView({ templateId, from, to }: { templateId: string; from: number; to: number }) {
  const diff = useQuery({
    queryKey: ['templates', templateId, 'diff', from, to],
    queryFn: () => api<Diff>(`/api/templates/${enc(templateId)}/diff`, { query: { from, to } }),
  });
  const before = useQuery({
    queryKey: ['templates', templateId, 'version', from],
    queryFn: () => api<Version>(`/api/templates/${enc(templateId)}/versions/${from}`),
  });
  const after = useQuery({
    queryKey: ['templates', templateId, 'version', to],
    queryFn: () => api<Version>(`/api/templates/${enc(templateId)}/versions/${to}`),
  });
  const error = diff.error ?? before.error ?? after.error;
  if (error) return <ErrorBanner error={error} />;
  if (!diff.data || !before.data || !after.data) return <Loading label="Loading the diff…" />;
  const { variables } = diff.data;
  const changedParts = CHANNELS.flatMap((channel) =>
    (diff.data.channels[channel]?.parts ?? []).map((p) => ({ channel, part: p.part })),
  );
  return (
    <section className="tpl-diff" aria-label={`Differences from v${from} to v${to}`}>
      <h3>
        v{from} → v{to}
      </h3>
      <ul className="tpl-diff-summary">
        {CHANNELS.filter((c) => diff.data.channels[c]).map((c) => (
          <li key={c}>
            {CHANNEL_LABEL[c]}: <StatusBadge status={diff.data.channels[c]!.status} />
          </li>
        ))}
        {variables.added.length ? <li>Variables added: {variables.added.join(', ')}</li> : null}
        {variables.removed.length ? <li>Variables removed: {variables.removed.join(', ')}</li> : null}
        {variables.changed.length ? <li>Variables changed: {variables.changed.join(', ')}</li> : null}
      </ul>
      {changedParts.length === 0 ? <p>No part differs.</p> : null}
      {changedParts.map(({ channel, part }) => {
        const label = PARTS[channel].find((p) => p.part === part)?.label ?? part;
        return (
          <div key={`${channel}.${part}`} className="tpl-diff-part">
            <h4>
              {CHANNEL_LABEL[channel]} · {label}
            </h4>
            <div className="tpl-diff-heads" aria-hidden="true">
              <span>v{from}</span>
              <span>v{to}</span>
            </div>
            <MergeDiff
              a={partOf(before.data.definition.channels, channel, part)}
              b={partOf(after.data.definition.channels, channel, part)}
              language={channel === 'email' && part === 'html' ? 'liquid-html' : 'liquid'}
              labelA={`${CHANNEL_LABEL[channel]} ${label}, version ${from}`}
              labelB={`${CHANNEL_LABEL[channel]} ${label}, version ${to}`}
            />
          </div>
        );
      })}
    </section>
  );
}

function MergeDiff(props: { a: string; b: string; language: PartLanguage; labelA: string; labelB: string }) {
  const host = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState<unknown>(null);
  const { a, b, language, labelA, labelB } = props;
  useEffect(() => {
    let cancelled = false;
    let view: { destroy(): void } | undefined;
    loadCodeMirror().then(
      (cm) => {
        if (cancelled || !host.current) return;
        view = cm.createMerge({ parent: host.current, a, b, language, labelA, labelB });
      },
      (error: unknown) => setFailed(error),
    );
    return () => {
      cancelled = true;
      view?.destroy();
    };
  }, [a, b, language, labelA, labelB]);
  if (failed) {
    return (
      <div className="tpl-diff-plain">
        <figure>
          <figcaption>{labelA}</figcaption>
          <pre>{a}</pre>
        </figure>
        <figure>
          <figcaption>{labelB}</figcaption>
          <pre>{b}</pre>
        </figure>
      </div>
    );
  }
  return <div ref={host} className="tpl-merge" data-testid="merge-view" />;
}
