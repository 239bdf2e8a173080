import { LiquidError } from 'liquidjs';
import { engineFor } from './engine.ts';
import { partEntries, partKind, type TemplateDefinition } from './parts.ts';

/**
 * Checks run when a template is saved, so authors see mistakes in the editor rather than as failed
 * sends: each part must parse, and each variable a part reads from the outside must be declared.
 * Loop variables, `assign`/`capture` locals and `forloop` are in scope, so they are not reported.
 */
export interface TemplateProblem {
  part: string;
  kind: 'parse' | 'undeclared';
  line: number;
  column: number;
  message: string;
  variable?: string;
}

export function validateDefinition(def: TemplateDefinition): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const declared = new Set(def.variables.map((v) => v.name));
  for (const [part, source] of partEntries(def)) {
    const engine = engineFor(partKind(def.channel, part));
    let ast: ReturnType<typeof engine.parse>;
    try {
      ast = engine.parse(source);
    } catch (err) {
      problems.push(parseProblem(part, err));
      continue;
    }
    const globals = engine.analyzeSync(ast, { partials: false }).globals;
    for (const [name, uses] of Object.entries(globals)) {
      if (declared.has(name)) continue;
      const first = uses[0];
      problems.push({
        part,
        kind: 'undeclared',
        variable: name,
        line: first?.location.row ?? 0,
        column: first?.location.col ?? 0,
        message: `undeclared variable: ${name}`,
      });
    }
  }
  return problems;
}

function parseProblem(part: string, err: unknown): TemplateProblem {
  if (LiquidError.is(err)) {
    const [line = 0, column = 0] = err.token.getPosition();
    // liquidjs appends ", line:N, col:M" to the message; the position has its own fields here.
    const message = err.message.replace(/, line:\d+, col:\d+$/, '');
    return { part, kind: 'parse', line, column, message };
  }
  return {
    part,
    kind: 'parse',
    line: 0,
    column: 0,
    message: err instanceof Error ? err.message : String(err),
  };
}
