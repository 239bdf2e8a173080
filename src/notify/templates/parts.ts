import { convert } from 'html-to-text';
import { type CompiledTemplate, compile, type PartKind } from './engine.ts';

/**
 * What a template is made of, per channel. The email text part is optional: when absent it is made
 * from the rendered HTML, so every email still has a plain-text alternative.
 */
export type Channel = 'email' | 'push' | 'sms';

export interface DeclaredVariable {
  name: string;
  required?: boolean;
  sample?: unknown;
}

export interface EmailParts {
  subject: string;
  html: string;
  text?: string;
}
export interface PushParts {
  title: string;
  body: string;
  url?: string;
}
export interface SmsParts {
  text: string;
}

export type TemplateDefinition =
  | { channel: 'email'; parts: EmailParts; variables: DeclaredVariable[] }
  | { channel: 'push'; parts: PushParts; variables: DeclaredVariable[] }
  | { channel: 'sms'; parts: SmsParts; variables: DeclaredVariable[] };

export type RenderedParts = Record<string, string>;

/** Only the email `html` part is HTML; subjects, push and SMS go out as plain text and are not escaped. */
export function partKind(channel: Channel, part: string): PartKind {
  return channel === 'email' && part === 'html' ? 'html' : 'text';
}

/** The parts a definition actually has, in a stable order. */
export function partEntries(def: TemplateDefinition): Array<[string, string]> {
  return Object.entries(def.parts).filter((e): e is [string, string] => typeof e[1] === 'string');
}

export class MissingVariableError extends Error {
  constructor(readonly variable: string) {
    super(`missing required variable: ${variable}`);
    this.name = 'MissingVariableError';
  }
}

export interface CompiledDefinition {
  readonly channel: Channel;
  readonly variables: DeclaredVariable[];
  readonly parts: Record<string, CompiledTemplate>;
  render(variables: Record<string, unknown>): RenderedParts;
}

/** Parse every part once; throws the liquidjs parse error of the first bad part (validate() first). */
export function compileDefinition(def: TemplateDefinition): CompiledDefinition {
  const parts: Record<string, CompiledTemplate> = {};
  for (const [name, source] of partEntries(def)) parts[name] = compile(source, partKind(def.channel, name));
  return {
    channel: def.channel,
    variables: def.variables,
    parts,
    render(variables) {
      const scope: Record<string, unknown> = { ...variables };
      for (const v of def.variables) {
        // `null` counts as given: it is the sender saying "empty", not forgetting.
        if (v.required && !Object.hasOwn(variables, v.name)) throw new MissingVariableError(v.name);
        // A declared optional variable left out renders empty: strict mode is for typos in templates.
        if (!Object.hasOwn(scope, v.name)) scope[v.name] = null;
      }
      const out: RenderedParts = {};
      for (const [name, tpl] of Object.entries(parts)) out[name] = tpl.render(scope);
      if (def.channel === 'email' && out.text === undefined && out.html !== undefined) {
        out.text = htmlToText(out.html);
      }
      return out;
    },
  };
}

/** One-off render (previews); senders keep the CompiledDefinition instead. */
export function renderDefinition(def: TemplateDefinition, variables: Record<string, unknown>): RenderedParts {
  return compileDefinition(def).render(variables);
}

export function htmlToText(html: string): string {
  return convert(html, { wordwrap: 78, selectors: [{ selector: 'img', format: 'skip' }] });
}
