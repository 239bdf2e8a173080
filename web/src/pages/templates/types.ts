/** The shapes of `/api/templates` (src/notify/routes/templates.ts) the screens use. */

export type Channel = 'email' | 'push' | 'sms';
export const CHANNELS: readonly Channel[] = ['email', 'push', 'sms'];

export interface Variable {
  name: string;
  required?: boolean;
  sample?: unknown;
}

export interface Channels {
  email?: { subject: string; html: string; text?: string };
  push?: { title: string; body: string; url?: string };
  sms?: { text: string };
}

export interface Definition {
  variables: Variable[];
  channels: Channels;
}

export interface SmsCost {
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
  units: number;
  basis?: 'sample' | 'source';
}

export interface Template {
  id: string;
  name: string;
  description: string | null;
  current_version: number;
  versions: number;
  created_at: string;
  updated_at: string;
  definition: Definition;
  sms_segments?: SmsCost;
}

export interface TemplatePage {
  items: Template[];
  next_after: string | null;
}

export interface VersionSummary {
  version: number;
  created_at: string;
  created_by: string | null;
  note: string | null;
}

export interface Version extends VersionSummary {
  template_id: string;
  definition: Definition;
}

export interface Rendered {
  template_id: string;
  version: number | null;
  channels: {
    email?: { subject: string; html: string; text: string };
    push?: { title: string; body: string; url?: string };
    sms?: { text: string } & SmsCost;
  };
}

export interface PartDiff {
  part: string;
  changes: { op: 'add' | 'remove' | 'same'; lines: string[] }[];
}

export interface Diff {
  template_id: string;
  from: number;
  to: number;
  channels: Partial<Record<Channel, { status: 'added' | 'removed' | 'changed' | 'same'; parts: PartDiff[] }>>;
  variables: { added: string[]; removed: string[]; changed: string[] };
}

/** One validation problem of a 400 NOTIFY_TEMPLATE_INVALID (`details.problems`). */
export interface Problem {
  channel?: Channel;
  part?: string;
  kind: 'parse' | 'undeclared' | 'duplicate';
  line?: number;
  column?: number;
  message: string;
  variable?: string;
}

/** The parts of each channel, in the order the editor shows them; optional ones may be left empty. */
export const PARTS: Record<
  Channel,
  { part: string; label: string; optional?: boolean; multiline: boolean }[]
> = {
  email: [
    { part: 'subject', label: 'Subject', multiline: false },
    { part: 'html', label: 'HTML body', multiline: true },
    { part: 'text', label: 'Text body', optional: true, multiline: true },
  ],
  push: [
    { part: 'title', label: 'Title', multiline: false },
    { part: 'body', label: 'Body', multiline: true },
    { part: 'url', label: 'URL', optional: true, multiline: false },
  ],
  sms: [{ part: 'text', label: 'Text', multiline: true }],
};

export const CHANNEL_LABEL: Record<Channel, string> = { email: 'Email', push: 'Push', sms: 'SMS' };

/** The problems of a thrown error, when it is a template validation 400. */
export function problemsOf(error: unknown): Problem[] {
  const details = (error as { details?: { problems?: unknown } } | undefined)?.details;
  return Array.isArray(details?.problems) ? (details.problems as Problem[]) : [];
}

export function describeProblem(p: Problem): string {
  const where = p.line ? `line ${p.line}, column ${p.column ?? 1}: ` : '';
  return p.kind === 'undeclared'
    ? `${where}variable "${p.variable}" is not declared`
    : `${where}${p.message}`;
}

/** The part's source as a string ('' when absent). */
export function partOf(channels: Channels, channel: Channel, part: string): string {
  const parts = channels[channel] as Record<string, string | undefined> | undefined;
  return parts?.[part] ?? '';
}

/** A definition as the API takes it: optional parts left empty are dropped. */
export function cleanDefinition(def: Definition): Definition {
  const channels: Channels = {};
  for (const channel of CHANNELS) {
    const parts = def.channels[channel] as Record<string, string | undefined> | undefined;
    if (!parts) continue;
    const out: Record<string, string> = {};
    for (const { part, optional } of PARTS[channel]) {
      const value = parts[part] ?? '';
      if (optional && value === '') continue;
      out[part] = value;
    }
    Object.assign(channels, { [channel]: out });
  }
  return { variables: def.variables.filter((v) => v.name !== ''), channels };
}

export const EMPTY_PARTS: Required<Channels> = {
  email: { subject: 'Hello {{ name }}', html: '<p>Hello {{ name }}</p>' },
  push: { title: 'Hello {{ name }}', body: 'Something happened' },
  sms: { text: 'Hello {{ name }}' },
};

/** "staff:7" → "staff #7". */
export function who(createdBy: string | null): string {
  if (!createdBy) return '—';
  const [kind, id] = createdBy.split(':');
  return id ? `${kind} #${id}` : createdBy;
}
