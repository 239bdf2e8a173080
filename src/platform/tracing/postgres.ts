import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import postgres from 'postgres';
import { tracer } from './tracing.ts';

const kTraced = Symbol.for('boxoffice.tracing.postgres');

interface QueryInternals {
  strings: TemplateStringsArray | string;
  executed: boolean;
  cursorRows?: number;
  resolve: (value: unknown) => unknown;
  reject: (error: unknown) => unknown;
  handle: () => Promise<void>;
}

/** A statement's text as PostgreSQL receives it: `$n` placeholders, never the values. Cached per call site. */
const texts = new WeakMap<TemplateStringsArray, string>();
function statementText(strings: TemplateStringsArray | string): string {
  if (typeof strings === 'string') return strings.slice(0, 2000);
  let text = texts.get(strings);
  if (text === undefined) {
    text = strings.reduce((all, part, i) => `${all}$${i}${part}`).slice(0, 2000);
    texts.set(strings, text);
  }
  return text;
}

/**
 * A client span for every postgres.js query that runs inside a trace (a query outside one, e.g. a
 * poller's, starts none). postgres.js has no hooks for this, so its Query class's `handle` (where a
 * query is first sent) is wrapped, as OpenTelemetry's own instrumentations wrap `pg`. If an upgrade
 * moves it, tracing goes on without database spans and says so; test/platform/tracing.test.ts fails.
 */
export function tracePostgresQueries(log: Logger): void {
  // Building a query does not run it: it runs when awaited.
  const probe = postgres({ max: 1, connection: {} })`select 1`;
  const Query = Object.getPrototypeOf(probe) as QueryInternals & { [kTraced]?: boolean };
  if (Query[kTraced]) return;
  const handle = Query.handle;
  if (typeof handle !== 'function' || !('resolve' in probe)) {
    log.warn('tracing: this postgres.js has no Query.handle to wrap; database calls are not traced');
    return;
  }
  Query[kTraced] = true;
  Query.handle = function (this: QueryInternals) {
    const parent = context.active();
    if (!this.executed && this.cursorRows === undefined && trace.getSpan(parent)) traceQuery(this, parent);
    return handle.call(this);
  };
}

function traceQuery(query: QueryInternals, parent: ReturnType<typeof context.active>): void {
  const text = statementText(query.strings);
  const operation = /^\s*(?:--[^\n]*\n\s*)*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'QUERY';
  const span: Span = tracer().startSpan(
    operation,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.text': text },
    },
    parent,
  );
  const { resolve, reject } = query;
  query.resolve = (result) => {
    const count = (result as { count?: unknown } | undefined)?.count;
    if (typeof count === 'number') span.setAttribute('db.response.returned_rows', count);
    span.end();
    return resolve(result);
  };
  query.reject = (error) => {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
    const code = (error as { code?: unknown })?.code;
    if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
    span.end();
    return reject(error);
  };
}
