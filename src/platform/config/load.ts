import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { type Static, type TObject, type TSchema, Type } from 'typebox';
import { Value } from 'typebox/value';
import type { ConfigSection } from './section.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Flags arrive as 'true' | 'false' and are handed out as booleans. */
export type ConfigOf<S extends TObject> = Readonly<{
  [K in keyof Static<S>]: [Static<S>[K]] extends ['true' | 'false'] ? boolean : Static<S>[K];
}>;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void
  ? I
  : never;
/** Every variable of every section, as one object type. */
type VariablesOf<S extends readonly ConfigSection[]> =
  UnionToIntersection<S[number]['variables']> extends infer I
    ? { [K in keyof I]: I[K] extends TSchema ? I[K] : never }
    : never;

/** Joins sections into one schema; two sections declaring one variable is a programming error. */
export function composeConfigSchema<S extends readonly ConfigSection[]>(
  sections: S,
): TObject<VariablesOf<S>> {
  const owner = new Map<string, string>();
  for (const section of sections) {
    for (const key of Object.keys(section.variables)) {
      const earlier = owner.get(key);
      if (earlier)
        throw new Error(`configuration variable ${key} is declared by both ${earlier} and ${section.name}`);
      owner.set(key, section.name);
    }
  }
  return Type.Object(Object.assign({}, ...sections.map((section) => section.variables)) as VariablesOf<S>);
}

/** Reads `.env` (if present) under the real environment: variables already set win. */
export function readEnv(env: Env = process.env, dotenvPath = '.env'): Env {
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  return { ...fromFile, ...env };
}

/** Validates and freezes the configuration; throws one ConfigError naming every bad variable. */
export function validateConfig<S extends TObject>(schema: S, env: Env): ConfigOf<S> {
  const properties = schema.properties as Record<string, TSchema>;
  const raw: Record<string, string> = {};
  for (const key of Object.keys(properties)) {
    const value = env[key];
    // An empty value means "not set", as shells and .env files often leave it.
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const candidate = Value.Convert(schema, Value.Default(schema, raw));
  if (!Value.Check(schema, candidate)) {
    const bad = new Map<string, string>();
    for (const error of Value.Errors(schema, candidate)) {
      const key = error.instancePath.slice(1);
      if (!key || bad.has(key) || !properties[key]) continue;
      bad.set(key, `${key}=${JSON.stringify(env[key])} is invalid: expected ${describe(properties[key])}`);
    }
    throw new ConfigError(`Invalid configuration: ${[...bad.values()].join('; ')}`);
  }
  const config: Record<string, unknown> = { ...(candidate as Record<string, unknown>) };
  for (const [key, property] of Object.entries(properties)) {
    if ((property as unknown as { flag?: boolean }).flag) config[key] = config[key] === 'true';
  }
  return Object.freeze(config) as ConfigOf<S>;
}

function describe(schema: TSchema): string {
  const s = schema as unknown as Record<string, unknown>;
  if (Array.isArray(s.anyOf)) return `one of ${s.anyOf.map((option) => option.const).join(', ')}`;
  if (s.type === 'integer') return `an integer from ${s.minimum} to ${s.maximum}`;
  if (typeof s.pattern === 'string') return `a value matching ${s.pattern}`;
  return 'a non-empty string';
}

type Described = { default?: unknown; description?: unknown };

/** The README's configuration tables (Markdown), one per section, generated from the sections. */
export function configTable(sections: readonly ConfigSection[]): string {
  const parts: string[] = [];
  for (const section of sections) {
    const rows = [`**${section.title}**`, '', '| variable | default | meaning |', '| --- | --- | --- |'];
    for (const [key, schema] of Object.entries(section.variables)) {
      const s = schema as unknown as Described;
      const fallback = s.default === undefined ? 'unset' : `\`${s.default}\``;
      rows.push(`| \`${key}\` | ${fallback} | ${String(s.description).replaceAll('|', '\\|')} |`);
    }
    parts.push(rows.join('\n'));
  }
  return parts.join('\n\n');
}

/** The `.env.example` text, generated from the sections so the two cannot drift. */
export function envExample(sections: readonly ConfigSection[]): string {
  const lines = [
    '# boxoffice configuration. Every variable is optional; the value shown is the default.',
    '',
  ];
  for (const section of sections) {
    lines.push(`# ---- ${section.title}`, '');
    for (const [key, schema] of Object.entries(section.variables)) {
      const s = schema as unknown as Described;
      lines.push(`# ${s.description}`);
      lines.push(s.default === undefined ? `# ${key}=` : `${key}=${s.default}`);
      lines.push('');
    }
  }
  return lines.join('\n');
}
