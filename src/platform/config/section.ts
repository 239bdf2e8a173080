import { type TSchema, Type } from 'typebox';

/**
 * One module's share of the configuration: the environment variables it reads, declared beside
 * the module. The composition root (`src/config.ts`) joins every section into one schema that is
 * validated once at boot; the README table and `.env.example` are generated section by section.
 */
export interface ConfigSection<V extends Record<string, TSchema> = Record<string, TSchema>> {
  /** Short name, e.g. `drops`. */
  name: string;
  /** The heading of this section in the README table and `.env.example`. */
  title: string;
  variables: V;
}

/** Keeps the variables' exact types, so `Config` knows every key and its type. */
export function defineConfigSection<V extends Record<string, TSchema>>(
  section: ConfigSection<V>,
): ConfigSection<V> {
  return section;
}

/** A true/false flag: arrives as 'true' | 'false' and is handed out as a boolean. */
export const Bool = (defaultValue: boolean, description: string) =>
  Type.Union([Type.Literal('true'), Type.Literal('false')], {
    default: String(defaultValue),
    description,
    flag: true,
  });
