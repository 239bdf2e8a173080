import { Liquid, type LiquidOptions, type Template } from 'liquidjs';

/**
 * The Liquid engines notification templates run in. Templates are written by organisers, so they are
 * untrusted: unknown variables and filters are errors (a typo must not send "Hello ," to 50k people),
 * only own properties are reachable (no `constructor`/`__proto__`), there is no file system (no
 * include/render/layout of files), and parse size, render time and allocations are capped so one
 * template cannot stall the sender. HTML parts escape every output by default; text parts do not.
 */
export type PartKind = 'html' | 'text';

/** Largest template source accepted by one parse. */
export const PARSE_LIMIT = 64 * 1024;
/** Wall-clock budget of one render, ms. */
export const RENDER_LIMIT_MS = 200;
/** Allocation budget of one render (liquidjs units: array elements, string length). */
export const MEMORY_LIMIT = 1_000_000;
/** Tag/output renders of one render call. */
export const TEMPLATE_LIMIT = 100_000;

const noFs = {
  // Any include/render/layout lands here: templates are self-contained.
  exists: async () => false,
  existsSync: () => false,
  readFile: async () => {
    throw new Error('templates cannot include files');
  },
  readFileSync: () => {
    throw new Error('templates cannot include files');
  },
  resolve: (_dir: string, file: string) => file,
};

const common: LiquidOptions = {
  strictVariables: true,
  strictFilters: true,
  ownPropertyOnly: true,
  parseLimit: PARSE_LIMIT,
  renderLimit: RENDER_LIMIT_MS,
  memoryLimit: MEMORY_LIMIT,
  fs: noFs,
  templates: {},
  dynamicPartials: false,
  relativeReference: false,
  cache: false,
};

const engines: Record<PartKind, Liquid> = {
  html: new Liquid({ ...common, outputEscape: 'escape' }),
  text: new Liquid(common),
};

export function engineFor(kind: PartKind): Liquid {
  return engines[kind];
}

/** A parsed part: parse once at save/load, render many times (the caller caches per template id + version). */
export interface CompiledTemplate {
  readonly kind: PartKind;
  readonly source: string;
  readonly ast: Template[];
  render(variables: Record<string, unknown>): string;
}

/** Throws liquidjs's ParseError/TokenizationError (with token line/col) on bad input. */
export function compile(source: string, kind: PartKind): CompiledTemplate {
  const engine = engines[kind];
  const ast = engine.parse(source);
  return {
    kind,
    source,
    ast,
    render: (variables) =>
      String(
        engine.renderSync(ast, variables, {
          renderLimit: RENDER_LIMIT_MS,
          memoryLimit: MEMORY_LIMIT,
          templateLimit: TEMPLATE_LIMIT,
        }),
      ),
  };
}
