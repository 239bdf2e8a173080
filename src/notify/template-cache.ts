import type { Queryable } from '../platform/db/client.ts';
import {
  type Channel,
  type CompiledDefinition,
  compileDefinition,
  type DeclaredVariable,
  type EmailParts,
  type PushParts,
  type SmsParts,
  type TemplateDefinition,
} from './templates/index.ts';

/** A template version as stored (`notify_template_versions.definition`): shared variables, parts per channel. */
export interface StoredDefinition {
  variables: DeclaredVariable[];
  channels: { email?: EmailParts; push?: PushParts; sms?: SmsParts };
}

export interface TemplateVersion {
  templateId: string;
  version: number;
  definition: StoredDefinition;
}

/** One channel's definition of a stored version, or undefined when the template has no parts for it. */
export function channelDefinition(
  stored: StoredDefinition,
  channel: Channel,
): TemplateDefinition | undefined {
  const parts = stored.channels[channel];
  if (!parts) return undefined;
  return { channel, parts, variables: stored.variables } as TemplateDefinition;
}

/** The version asked for, or the template's current one; undefined when either does not exist. */
export async function loadTemplateVersion(
  sql: Queryable,
  templateId: string,
  version?: number | null,
): Promise<TemplateVersion | undefined> {
  const [row] = await sql<{ version: number; definition: StoredDefinition }[]>`
    select v.version, v.definition
    from notify_templates t
    join notify_template_versions v
      on v.template_id = t.id and v.version = coalesce(${version ?? null}::int, t.current_version)
    where t.id = ${templateId}`;
  return row ? { templateId, version: row.version, definition: row.definition } : undefined;
}

const MAX_CACHED = 1000;
const compiled = new Map<string, CompiledDefinition>();

/**
 * A version's channel parts, parsed once per process: versions are immutable, so the cache never goes
 * stale (only its size is bounded, oldest out first).
 */
export function compiledVersion(version: TemplateVersion, channel: Channel): CompiledDefinition | undefined {
  const key = `${version.templateId}\u0000${version.version}\u0000${channel}`;
  let found = compiled.get(key);
  if (!found) {
    const definition = channelDefinition(version.definition, channel);
    if (!definition) return undefined;
    found = compileDefinition(definition);
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, found);
  }
  return found;
}
