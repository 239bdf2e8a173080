import { randomBytes } from 'node:crypto';
import { appendAudit, auditFromPrincipal } from '../platform/audit/index.ts';
import type { Principal } from '../platform/auth/principal.ts';
import type { Queryable, Sql, Tx } from '../platform/db/client.ts';
import { notifyError } from './errors.ts';
import { channelDefinition, type StoredDefinition } from './template-cache.ts';
import {
  type Channel,
  type DeclaredVariable,
  diffParts,
  MissingVariableError,
  type PartDiff,
  type RenderedParts,
  renderDefinition,
  type SmsSegments,
  smsSegments,
  type TemplateProblem,
  validateDefinition,
} from './templates/index.ts';

/**
 * Templates and their immutable versions (FR-004/005): the SQL of `notify_templates` and
 * `notify_template_versions`, and the use cases that own a transaction (create, update, rollback).
 *
 * Locking: a new version is numbered under `select … for update` of the template row, so parallel
 * saves queue on that row and get N+1, N+2 … in commit order. The audit chain's lock is taken after
 * it (appendAudit is the last statement), always in that order, so the two never deadlock.
 */

export const CHANNELS: readonly Channel[] = ['email', 'push', 'sms'];

export interface TemplateInput {
  name: string;
  description?: string | null;
  note?: string | null;
  definition: StoredDefinition;
}

export interface TemplateRecord {
  id: string;
  name: string;
  description: string | null;
  currentVersion: number;
  versions: number;
  createdAt: Date;
  updatedAt: Date;
  definition: StoredDefinition;
}

export interface VersionRecord {
  templateId: string;
  version: number;
  definition: StoredDefinition;
  note: string | null;
  createdBy: string | null;
  createdAt: Date;
}

export type VersionSummary = Omit<VersionRecord, 'definition' | 'templateId'>;

/** `created_by` of a version: who saved it, as `<kind>:<id>` (e.g. `staff:7`). */
export function principalRef(principal: Principal): string {
  return `${principal.kind}:${principal.id}`;
}

export function generateTemplateId(): string {
  return `tpl_${randomBytes(8).toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------------
// Validation at save

export interface ChannelProblem extends TemplateProblem {
  channel: Channel;
}

/** Every problem of every channel's parts; a definition without parts or with a variable twice is refused too. */
export function definitionProblems(definition: StoredDefinition): ChannelProblem[] {
  const problems: ChannelProblem[] = [];
  for (const channel of CHANNELS) {
    const def = channelDefinition(definition, channel);
    if (!def) continue;
    for (const problem of validateDefinition(def)) problems.push({ channel, ...problem });
  }
  return problems;
}

function describeProblem(p: ChannelProblem): string {
  const where = `${p.channel}.${p.part} line ${p.line}, column ${p.column}`;
  return p.kind === 'undeclared'
    ? `${where}: variable "${p.variable}" is not declared in variables`
    : `${where}: ${p.message}`;
}

/** Throws 400 NOTIFY_TEMPLATE_INVALID naming part, line and variable of each problem. */
export function assertValidDefinition(definition: StoredDefinition): void {
  if (!CHANNELS.some((c) => definition.channels[c])) {
    throw notifyError('NOTIFY_CHANNEL_MISSING', 'A template needs at least one channel: email, push or sms');
  }
  const seen = new Set<string>();
  for (const v of definition.variables) {
    if (seen.has(v.name)) {
      throw notifyError('NOTIFY_TEMPLATE_INVALID', `variable "${v.name}" is declared twice`, {
        problems: [{ kind: 'duplicate', variable: v.name, message: `variable declared twice: ${v.name}` }],
      });
    }
    seen.add(v.name);
  }
  const problems = definitionProblems(definition);
  if (problems.length > 0) {
    throw notifyError(
      'NOTIFY_TEMPLATE_INVALID',
      `The template is invalid: ${problems.map(describeProblem).join('; ')}`,
      { problems },
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Preview render

/**
 * The variables a preview renders with: what the caller gave, else the declared sample, else null.
 * Null matters: liquidjs runs with strictVariables, so a declared optional variable that is simply
 * absent would fail the render ("undefined variable"), while null renders as empty. A required
 * variable with neither a value nor a sample is refused.
 */
export function previewVariables(
  declared: DeclaredVariable[],
  given: Record<string, unknown>,
  { requireRequired }: { requireRequired: boolean },
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...given };
  const missing: string[] = [];
  for (const v of declared) {
    if (Object.hasOwn(out, v.name)) continue;
    if (v.sample !== undefined) out[v.name] = v.sample;
    else if (v.required && requireRequired) missing.push(v.name);
    else out[v.name] = null;
  }
  if (missing.length > 0) {
    throw notifyError(
      'NOTIFY_VARIABLES_INVALID',
      `Missing required variable${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
      { missing },
    );
  }
  return out;
}

export interface RenderedChannel {
  parts: RenderedParts;
  sms?: SmsSegments;
}

/** One channel rendered with complete variables (previewVariables first); render failures are 400s. */
export function renderChannel(
  definition: StoredDefinition,
  channel: Channel,
  variables: Record<string, unknown>,
): RenderedChannel {
  const def = channelDefinition(definition, channel);
  if (!def) throw notifyError('NOTIFY_CHANNEL_MISSING', `The template has no ${channel} channel`);
  let parts: RenderedParts;
  try {
    parts = renderDefinition(def, variables);
  } catch (err) {
    if (err instanceof MissingVariableError) {
      throw notifyError('NOTIFY_VARIABLES_INVALID', `Missing required variable: ${err.variable}`, {
        missing: [err.variable],
      });
    }
    // Values of the wrong shape (`user.name` of a string), limits: the caller's data, not our fault.
    const message = (err instanceof Error ? err.message : String(err)).replace(/, line:\d+, col:\d+$/, '');
    throw notifyError('NOTIFY_VARIABLES_INVALID', `${channel} could not be rendered: ${message}`);
  }
  return channel === 'sms' && parts.text !== undefined ? { parts, sms: smsSegments(parts.text) } : { parts };
}

export interface SmsCost extends SmsSegments {
  /** `sample`: a render with declared samples (null where none); `source`: the raw text when that fails. */
  basis: 'sample' | 'source';
}

/** What one SMS of this template costs, measured on a render with the sample values. */
export function smsCost(definition: StoredDefinition): SmsCost | undefined {
  const sms = definition.channels.sms;
  if (!sms) return undefined;
  try {
    const variables = previewVariables(definition.variables, {}, { requireRequired: false });
    const { parts } = renderChannel(definition, 'sms', variables);
    return { ...smsSegments(parts.text ?? ''), basis: 'sample' };
  } catch {
    return { ...smsSegments(sms.text), basis: 'source' };
  }
}

// ---------------------------------------------------------------------------------------------------
// Diff

export interface ChannelDiff {
  status: 'added' | 'removed' | 'changed' | 'same';
  parts: PartDiff[];
}

export interface VersionDiff {
  channels: Partial<Record<Channel, ChannelDiff>>;
  variables: { added: string[]; removed: string[]; changed: string[] };
}

export function diffVersions(from: StoredDefinition, to: StoredDefinition): VersionDiff {
  const channels: Partial<Record<Channel, ChannelDiff>> = {};
  for (const channel of CHANNELS) {
    const before = from.channels[channel] as Record<string, string | undefined> | undefined;
    const after = to.channels[channel] as Record<string, string | undefined> | undefined;
    if (!before && !after) continue;
    const parts = diffParts(before ?? {}, after ?? {});
    const status = !before ? 'added' : !after ? 'removed' : parts.length > 0 ? 'changed' : 'same';
    channels[channel] = { status, parts };
  }
  const fromVars = new Map(from.variables.map((v) => [v.name, v]));
  const toVars = new Map(to.variables.map((v) => [v.name, v]));
  const same = (a: DeclaredVariable, b: DeclaredVariable) =>
    Boolean(a.required) === Boolean(b.required) && JSON.stringify(a.sample) === JSON.stringify(b.sample);
  return {
    channels,
    variables: {
      added: [...toVars.keys()].filter((n) => !fromVars.has(n)),
      removed: [...fromVars.keys()].filter((n) => !toVars.has(n)),
      changed: [...toVars.entries()]
        .filter(([n, v]) => fromVars.has(n) && !same(fromVars.get(n)!, v))
        .map(([n]) => n),
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Reads

interface TemplateRow {
  id: string;
  name: string;
  description: string | null;
  current_version: number;
  versions: number;
  created_at: Date;
  updated_at: Date;
  definition: StoredDefinition;
}

const toTemplate = (row: TemplateRow): TemplateRecord => ({
  id: row.id,
  name: row.name,
  description: row.description,
  currentVersion: row.current_version,
  versions: row.versions,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  definition: row.definition,
});

/** A template with its current version's definition, or undefined. */
export async function findTemplate(sql: Queryable, id: string): Promise<TemplateRecord | undefined> {
  const [row] = await sql<TemplateRow[]>`
    select t.id, t.name, t.description, t.current_version, t.created_at, t.updated_at, v.definition,
           (select count(*)::int from notify_template_versions c where c.template_id = t.id) as versions
    from notify_templates t
    join notify_template_versions v on v.template_id = t.id and v.version = t.current_version
    where t.id = ${id}`;
  return row && toTemplate(row);
}

export async function getTemplate(sql: Queryable, id: string): Promise<TemplateRecord> {
  const found = await findTemplate(sql, id);
  if (!found) throw notifyError('NOTIFY_TEMPLATE_NOT_FOUND', `No template ${id}`);
  return found;
}

/** Templates by id, `limit` after the cursor (the last id of the previous page). */
export async function listTemplates(
  sql: Queryable,
  { limit, after }: { limit: number; after?: string },
): Promise<{ items: TemplateRecord[]; nextAfter: string | null }> {
  const rows = await sql<TemplateRow[]>`
    select t.id, t.name, t.description, t.current_version, t.created_at, t.updated_at, v.definition,
           (select count(*)::int from notify_template_versions c where c.template_id = t.id) as versions
    from notify_templates t
    join notify_template_versions v on v.template_id = t.id and v.version = t.current_version
    where ${after === undefined ? sql`true` : sql`t.id > ${after}`}
    order by t.id
    limit ${limit + 1}`;
  const more = rows.length > limit;
  const items = rows.slice(0, limit).map(toTemplate);
  return { items, nextAfter: more ? items[items.length - 1]!.id : null };
}

interface VersionRow {
  version: number;
  definition: StoredDefinition;
  note: string | null;
  created_by: string | null;
  created_at: Date;
}

async function assertTemplateExists(sql: Queryable, id: string): Promise<void> {
  const [row] = await sql`select 1 from notify_templates where id = ${id}`;
  if (!row) throw notifyError('NOTIFY_TEMPLATE_NOT_FOUND', `No template ${id}`);
}

/** Versions newest first (without definitions). 404 when the template does not exist. */
export async function listVersions(sql: Queryable, id: string): Promise<VersionSummary[]> {
  const rows = await sql<Omit<VersionRow, 'definition'>[]>`
    select version, note, created_by, created_at
    from notify_template_versions where template_id = ${id}
    order by version desc`;
  if (rows.length === 0) await assertTemplateExists(sql, id);
  return rows.map((r) => ({
    version: r.version,
    note: r.note,
    createdBy: r.created_by,
    createdAt: r.created_at,
  }));
}

/** One version; 404 NOTIFY_TEMPLATE_NOT_FOUND or NOTIFY_VERSION_NOT_FOUND. */
export async function getVersion(sql: Queryable, id: string, version: number): Promise<VersionRecord> {
  const [row] = await sql<VersionRow[]>`
    select version, definition, note, created_by, created_at
    from notify_template_versions where template_id = ${id} and version = ${version}`;
  if (!row) {
    await assertTemplateExists(sql, id);
    throw notifyError('NOTIFY_VERSION_NOT_FOUND', `Template ${id} has no version ${version}`);
  }
  return {
    templateId: id,
    version: row.version,
    definition: row.definition,
    note: row.note,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

// ---------------------------------------------------------------------------------------------------
// Writes (each in its own transaction, audit last)

async function insertVersion(
  tx: Tx,
  id: string,
  version: number,
  definition: StoredDefinition,
  note: string | null,
  createdBy: string,
): Promise<void> {
  await tx`
    insert into notify_template_versions (template_id, version, definition, note, created_by)
    values (${id}, ${version}, ${tx.json(definition as never)}, ${note}, ${createdBy})`;
}

async function lockCurrentVersion(tx: Tx, id: string): Promise<number> {
  const [row] = await tx<{ current_version: number }[]>`
    select current_version from notify_templates where id = ${id} for update`;
  if (!row) throw notifyError('NOTIFY_TEMPLATE_NOT_FOUND', `No template ${id}`);
  return row.current_version;
}

function audit(tx: Tx, principal: Principal, action: string, id: string, version: number) {
  return appendAudit(tx, {
    ...auditFromPrincipal(principal),
    action,
    resource: `template:${id}`,
    result: 'success',
    metadata: { version },
  });
}

/** Version 1 of a new template; 409 NOTIFY_TEMPLATE_EXISTS when the id is taken. */
export async function createTemplate(
  sql: Sql,
  principal: Principal,
  id: string,
  input: TemplateInput,
): Promise<TemplateRecord> {
  assertValidDefinition(input.definition);
  await sql.begin(async (tx) => {
    // A concurrent create of the same id waits on the unique index, then finds it taken.
    const inserted = await tx`
      insert into notify_templates (id, name, description, current_version)
      values (${id}, ${input.name}, ${input.description ?? null}, 1)
      on conflict (id) do nothing
      returning id`;
    if (inserted.length === 0) throw notifyError('NOTIFY_TEMPLATE_EXISTS', `Template ${id} already exists`);
    await insertVersion(tx, id, 1, input.definition, input.note ?? null, principalRef(principal));
    await audit(tx, principal, 'template.create', id, 1);
  });
  return getTemplate(sql, id);
}

async function saveNewVersion(
  sql: Sql,
  principal: Principal,
  id: string,
  action: 'template.update' | 'template.rollback',
  next: (tx: Tx) => Promise<{
    definition: StoredDefinition;
    name?: string;
    description?: string | null;
    note: string | null;
  }>,
): Promise<TemplateRecord> {
  await sql.begin(async (tx) => {
    const current = await lockCurrentVersion(tx, id);
    const { definition, name, description, note } = await next(tx);
    const version = current + 1;
    await insertVersion(tx, id, version, definition, note, principalRef(principal));
    await tx`
      update notify_templates
      set current_version = ${version},
          name = coalesce(${name ?? null}, name),
          description = ${description === undefined ? tx`description` : description},
          updated_at = now()
      where id = ${id}`;
    await audit(tx, principal, action, id, version);
  });
  return getTemplate(sql, id);
}

/** A new version (current + 1) with the given definition; name and description change in place. */
export function updateTemplate(
  sql: Sql,
  principal: Principal,
  id: string,
  input: TemplateInput,
): Promise<TemplateRecord> {
  assertValidDefinition(input.definition);
  return saveNewVersion(sql, principal, id, 'template.update', async () => ({
    definition: input.definition,
    name: input.name,
    description: input.description ?? null,
    note: input.note ?? null,
  }));
}

/** A new version whose definition is a copy of `version` (history is never rewritten). */
export function rollbackTemplate(
  sql: Sql,
  principal: Principal,
  id: string,
  version: number,
): Promise<TemplateRecord> {
  return saveNewVersion(sql, principal, id, 'template.rollback', async (tx) => {
    const old = await getVersion(tx, id, version);
    return { definition: old.definition, note: `rollback to ${version}` };
  });
}
