import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { ApiError, api } from '../../app/api.ts';
import { formatTime } from '../../app/format.ts';
import { useSession } from '../../app/session.tsx';
import { ErrorBanner, Loading, Notice } from '../../ui/Feedback.tsx';
import { TextArea, TextField } from '../../ui/Field.tsx';
import { Page, Panel } from '../../ui/Page.tsx';
import { CodeEditor } from './CodeEditor.tsx';
import { History } from './History.tsx';
import { Preview } from './Preview.tsx';
import {
  CHANNEL_LABEL,
  CHANNELS,
  type Channel,
  type Channels,
  cleanDefinition,
  type Definition,
  describeProblem,
  EMPTY_PARTS,
  PARTS,
  type Problem,
  partOf,
  problemsOf,
  type Rendered,
  type Template,
  type Version,
  who,
} from './types.ts';
import './templates.css';

const enc = encodeURIComponent;
const PREVIEW_DELAY_MS = 400;

/** A declared variable as the form edits it: the sample as text (JSON when it parses, else a string). */
interface VariableRow {
  key: number;
  name: string;
  required: boolean;
  sample: string;
}

interface Draft {
  name: string;
  description: string;
  note: string;
  variables: VariableRow[];
  channels: Channels;
}

let rowKeys = 0;

function toDraft(template: Template, definition: Definition): Draft {
  return {
    name: template.name,
    description: template.description ?? '',
    note: '',
    variables: definition.variables.map((v) => ({
      key: ++rowKeys,
      name: v.name,
      required: Boolean(v.required),
      sample:
        v.sample === undefined ? '' : typeof v.sample === 'string' ? v.sample : JSON.stringify(v.sample),
    })),
    channels: structuredClone(definition.channels),
  };
}

function sampleValue(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function definitionOf(draft: Draft): Definition {
  return cleanDefinition({
    variables: draft.variables.map((v) => {
      const sample = sampleValue(v.sample);
      return {
        name: v.name.trim(),
        ...(v.required ? { required: true } : {}),
        ...(sample === undefined ? {} : { sample }),
      };
    }),
    channels: draft.channels,
  });
}

/** The editor of one template: parts per channel, variables, live preview, save as a new version, history. */
export default function TemplatePage() {
  const { id = '' } = useParams();
  const [params] = useSearchParams();
  const { can } = useSession();
  const canManage = can('notify:manage');
  const queryClient = useQueryClient();

  const template = useQuery({
    queryKey: ['templates', id],
    queryFn: () => api<Template>(`/api/templates/${enc(id)}`),
  });
  const asked = Number(params.get('version')) || undefined;
  const viewing =
    asked !== undefined && template.data && asked !== template.data.current_version ? asked : undefined;
  const version = useQuery({
    queryKey: ['templates', id, 'version', viewing],
    queryFn: () => api<Version>(`/api/templates/${enc(id)}/versions/${viewing}`),
    enabled: viewing !== undefined,
  });

  const source = viewing !== undefined ? version.data?.definition : template.data?.definition;
  const sourceVersion = viewing ?? template.data?.current_version;
  const readOnly = !canManage || viewing !== undefined;

  const [draft, setDraft] = useState<Draft | null>(null);
  const loadedKey = useRef('');
  useEffect(() => {
    if (!template.data || !source) return;
    const key = `${id}:${sourceVersion}`;
    if (loadedKey.current === key) return;
    loadedKey.current = key;
    setDraft(toDraft(template.data, source));
  }, [id, template.data, source, sourceVersion]);

  const definition = useMemo(() => (draft ? definitionOf(draft) : undefined), [draft]);
  const definitionJson = definition ? JSON.stringify(definition) : '';
  const dirty =
    !!draft &&
    !!template.data &&
    viewing === undefined &&
    (definitionJson !== JSON.stringify(cleanDefinition(template.data.definition)) ||
      draft.name !== template.data.name ||
      draft.description !== (template.data.description ?? ''));

  // Live preview: the draft (or the viewed version) rendered by the server, debounced; only the newest
  // answer counts. Rendering needs notify:manage, so a read-only role sees the sources only.
  const [rendered, setRendered] = useState<Rendered | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const [previewing, setPreviewing] = useState(false);
  const sequence = useRef(0);
  useEffect(() => {
    if (!canManage || !definitionJson) return;
    const mine = ++sequence.current;
    const body = viewing !== undefined ? { version: viewing } : { definition: JSON.parse(definitionJson) };
    setPreviewing(true);
    const timer = setTimeout(() => {
      api<Rendered>(`/api/templates/${enc(id)}/render`, { method: 'POST', body }).then(
        (result) => {
          if (mine !== sequence.current) return;
          setRendered(result);
          setPreviewError(null);
          setPreviewing(false);
        },
        (error: unknown) => {
          if (mine !== sequence.current) return;
          setPreviewError(error);
          setPreviewing(false);
        },
      );
    }, PREVIEW_DELAY_MS);
    return () => clearTimeout(timer);
  }, [canManage, definitionJson, id, viewing]);

  const [savedNotice, setSavedNotice] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (d: Draft) =>
      api<Template>(`/api/templates/${enc(id)}`, {
        method: 'PUT',
        body: {
          name: d.name,
          description: d.description === '' ? null : d.description,
          note: d.note === '' ? null : d.note,
          ...definitionOf(d),
        },
      }),
    onSuccess: async (saved) => {
      setSavedNotice(`Saved as version ${saved.current_version}.`);
      queryClient.setQueryData(['templates', id], saved);
      await queryClient.invalidateQueries({ queryKey: ['templates'] });
    },
  });

  // Inline problems: the save's 400 while the draft is unchanged since, else the preview's.
  const problems: Problem[] = useMemo(() => {
    const fromSave = save.isError ? problemsOf(save.error) : [];
    return fromSave.length > 0 ? fromSave : problemsOf(previewError);
  }, [save.isError, save.error, previewError]);
  const otherError =
    previewError && !(previewError instanceof ApiError && previewError.code === 'NOTIFY_TEMPLATE_INVALID')
      ? previewError
      : null;

  if (template.isPending)
    return (
      <Page title="Template">
        <Loading />
      </Page>
    );
  if (template.error || !template.data)
    return (
      <Page title="Template">
        <ErrorBanner error={template.error} />
      </Page>
    );
  const t = template.data;

  const update = (change: (d: Draft) => Draft) => {
    setSavedNotice(null);
    if (save.isError) save.reset();
    setDraft((d) => (d ? change(d) : d));
  };
  const setPart = (channel: Channel, part: string, value: string) =>
    update((d) => ({
      ...d,
      channels: { ...d.channels, [channel]: { ...(d.channels[channel] ?? {}), [part]: value } },
    }));
  const toggleChannel = (channel: Channel, on: boolean) =>
    update((d) => {
      const channels = { ...d.channels };
      if (on) Object.assign(channels, { [channel]: { ...EMPTY_PARTS[channel] } });
      else delete channels[channel];
      return { ...d, channels };
    });

  return (
    <Page
      title={`Template ${t.name}`}
      actions={
        <Link to="/templates" className="button">
          All templates
        </Link>
      }
    >
      <p className="tpl-meta">
        <span className="mono">{t.id}</span> · current version {t.current_version} of {t.versions} · updated{' '}
        {formatTime(t.updated_at)}
        {!canManage ? ' · read-only: your role cannot change templates' : ''}
      </p>
      {viewing !== undefined ? (
        <Notice tone="warning">
          Viewing version {viewing}
          {version.data
            ? ` (saved ${formatTime(version.data.created_at)} by ${who(version.data.created_by)})`
            : ''}
          , read-only. <Link to={`/templates/${enc(id)}`}>Back to the current version</Link>
        </Notice>
      ) : null}
      {savedNotice ? <Notice tone="success">{savedNotice}</Notice> : null}
      <ErrorBanner error={version.error} />
      {!draft ? (
        <Loading />
      ) : (
        <div className="tpl-layout">
          <form
            className="tpl-editor"
            aria-label="Template definition"
            onSubmit={(e) => {
              e.preventDefault();
              if (!readOnly) save.mutate(draft);
            }}
          >
            <Panel title="Details">
              <div className="form-row">
                <TextField
                  label="Name"
                  value={draft.name}
                  readOnly={readOnly}
                  required
                  maxLength={200}
                  onChange={(e) => update((d) => ({ ...d, name: e.target.value }))}
                />
                <TextField
                  label="Description"
                  value={draft.description}
                  readOnly={readOnly}
                  maxLength={2000}
                  onChange={(e) => update((d) => ({ ...d, description: e.target.value }))}
                />
              </div>
              <fieldset className="tpl-channels" disabled={readOnly}>
                <legend>Channels</legend>
                {CHANNELS.map((c) => (
                  <label key={c}>
                    <input
                      type="checkbox"
                      checked={Boolean(draft.channels[c])}
                      onChange={(e) => toggleChannel(c, e.target.checked)}
                    />{' '}
                    {CHANNEL_LABEL[c]}
                  </label>
                ))}
              </fieldset>
            </Panel>
            <Variables
              rows={draft.variables}
              readOnly={readOnly}
              problems={problems.filter((p) => !p.channel)}
              onChange={(variables) => update((d) => ({ ...d, variables }))}
            />
            {CHANNELS.filter((c) => draft.channels[c]).map((channel) => (
              <Panel key={channel} title={CHANNEL_LABEL[channel]}>
                {PARTS[channel].map(({ part, label, optional, multiline }) => (
                  <PartField
                    key={`${channel}.${part}`}
                    label={`${CHANNEL_LABEL[channel]} ${label}`}
                    hint={
                      optional
                        ? channel === 'email'
                          ? 'Optional: made from the HTML when empty'
                          : 'Optional'
                        : undefined
                    }
                    value={partOf(draft.channels, channel, part)}
                    language={channel === 'email' && part === 'html' ? 'liquid-html' : 'liquid'}
                    readOnly={readOnly}
                    multiline={multiline}
                    problems={problems.filter((p) => p.channel === channel && p.part === part)}
                    onChange={(value) => setPart(channel, part, value)}
                  />
                ))}
              </Panel>
            ))}
            {readOnly ? null : (
              <Panel title="Save">
                <TextField
                  label="Note for this version"
                  hint="Shown in the history"
                  value={draft.note}
                  maxLength={500}
                  onChange={(e) => update((d) => ({ ...d, note: e.target.value }))}
                />
                {save.isError && problemsOf(save.error).length === 0 ? (
                  <ErrorBanner error={save.error} />
                ) : null}
                {save.isError && problemsOf(save.error).length > 0 ? (
                  <p className="field-error" role="alert">
                    Not saved: the template has {problemsOf(save.error).length} problem
                    {problemsOf(save.error).length > 1 ? 's' : ''} (marked above).
                  </p>
                ) : null}
                <button type="submit" className="primary" disabled={save.isPending || !dirty}>
                  {save.isPending ? 'Saving…' : `Save as version ${t.current_version + 1}`}
                </button>
              </Panel>
            )}
          </form>
          <div className="tpl-side">
            <Panel title="Preview">
              {!canManage ? (
                <p className="tpl-muted">Previews are rendered for roles that may manage templates.</p>
              ) : (
                <>
                  <p className="tpl-muted" aria-live="polite">
                    {previewing
                      ? 'Rendering…'
                      : problems.length > 0
                        ? 'The template has problems; the preview shows the last render that worked.'
                        : viewing !== undefined
                          ? `Version ${viewing} with the sample values`
                          : 'The draft with the sample values'}
                  </p>
                  <ErrorBanner error={otherError} />
                  {rendered ? <Preview rendered={rendered} name={draft.name} /> : null}
                </>
              )}
            </Panel>
          </div>
        </div>
      )}
      <History template={t} canManage={canManage} />
    </Page>
  );
}

function PartField({
  label,
  hint,
  value,
  language,
  readOnly,
  multiline,
  problems,
  onChange,
}: {
  label: string;
  hint: string | undefined;
  value: string;
  language: 'liquid' | 'liquid-html';
  readOnly: boolean;
  multiline: boolean;
  problems: Problem[];
  onChange: (value: string) => void;
}) {
  const id = useId();
  const lines = problems.map((p) => p.line).filter((n): n is number => typeof n === 'number');
  return (
    <div className={`field tpl-part${problems.length ? ' tpl-part-invalid' : ''}`}>
      <span className="tpl-part-label" id={`${id}-label`}>
        {label}
      </span>
      <CodeEditor
        value={value}
        onChange={onChange}
        label={label}
        language={language}
        readOnly={readOnly}
        multiline={multiline}
        problemLines={lines}
        describedBy={problems.length ? `${id}-error` : undefined}
      />
      {hint ? <small className="field-hint">{hint}</small> : null}
      {problems.length ? (
        <ul id={`${id}-error`} className="field-error tpl-problems" role="alert">
          {problems.map((p) => (
            <li key={`${p.line}:${p.column}:${p.message}`}>{describeProblem(p)}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function Variables({
  rows,
  readOnly,
  problems,
  onChange,
}: {
  rows: VariableRow[];
  readOnly: boolean;
  problems: Problem[];
  onChange: (rows: VariableRow[]) => void;
}) {
  const set = (key: number, change: Partial<VariableRow>) =>
    onChange(rows.map((r) => (r.key === key ? { ...r, ...change } : r)));
  return (
    <Panel
      title="Variables"
      actions={
        readOnly ? null : (
          <button
            type="button"
            onClick={() => onChange([...rows, { key: ++rowKeys, name: '', required: false, sample: '' }])}
          >
            Add variable
          </button>
        )
      }
    >
      <p className="tpl-muted">
        Every variable a part reads must be declared. Samples fill the preview: JSON (e.g.{' '}
        <code>{'{"first_name": "Anna"}'}</code>) or plain text.
      </p>
      {rows.length === 0 ? <p>No variables declared.</p> : null}
      {rows.map((row, index) => (
        <div key={row.key} className="tpl-variable">
          <TextField
            label={`Variable ${index + 1} name`}
            value={row.name}
            readOnly={readOnly}
            pattern="[A-Za-z_][A-Za-z0-9_]{0,63}"
            onChange={(e) => set(row.key, { name: e.target.value })}
          />
          <TextArea
            label={`Variable ${index + 1} sample`}
            value={row.sample}
            readOnly={readOnly}
            rows={1}
            onChange={(e) => set(row.key, { sample: e.target.value })}
          />
          <label className="tpl-check">
            <input
              type="checkbox"
              checked={row.required}
              disabled={readOnly}
              onChange={(e) => set(row.key, { required: e.target.checked })}
            />{' '}
            Required
          </label>
          {readOnly ? null : (
            <button
              type="button"
              aria-label={`Remove variable ${row.name || index + 1}`}
              onClick={() => onChange(rows.filter((r) => r.key !== row.key))}
            >
              Remove
            </button>
          )}
        </div>
      ))}
      {problems.length ? (
        <ul className="field-error tpl-problems" role="alert">
          {problems.map((p) => (
            <li key={p.message}>{p.message}</li>
          ))}
        </ul>
      ) : null}
    </Panel>
  );
}
