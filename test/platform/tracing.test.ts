import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventFromMessage, eventHeaders } from '../../src/platform/events/envelope.ts';
import { JobQueue, type JobRunner, startJobRunner } from '../../src/platform/jobs/index.ts';
import { traceLogFields } from '../../src/platform/tracing/log-fields.ts';
import { startTracing, type Tracing } from '../../src/platform/tracing/tracing.ts';
import { Client, makeEvent, makeUsers, SMALL_HALL } from '../booking/harness.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort, type Spawned, spawnNode, waitForOk } from '../helpers/process.ts';

/** One span as an OTLP/HTTP JSON export carries it, with its process's resource attributes. */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

// OTLP's SpanKind numbers (SERVER = 2 …), not the API's enum (SERVER = 1 …).
const OTLP_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };

type AnyValue = {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
};
const attributesOf = (list: { key: string; value: AnyValue }[] = []) =>
  Object.fromEntries(
    list.map(({ key, value }) => [
      key,
      value.stringValue ??
        (value.intValue !== undefined ? Number(value.intValue) : (value.boolValue ?? value.doubleValue)),
    ]),
  );

/** A real OTLP/HTTP receiver (JSON encoding, as the exporter sends it): keeps every span it is sent. */
function startReceiver(): Promise<{ server: Server; endpoint: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url !== '/v1/traces' || request.method !== 'POST') {
        response.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const rs of body.resourceSpans ?? []) {
        const resource = attributesOf(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? [])
          for (const span of ss.spans ?? [])
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? '',
              name: span.name,
              kind: span.kind,
              attributes: attributesOf(span.attributes),
              resource,
            });
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ server, endpoint: `http://127.0.0.1:${port}`, spans });
    }),
  );
}

/** An HTTP peer answering 204 to everything, keeping the headers it was sent. */
async function startPeer(): Promise<{ seen: IncomingHttpHeaders[]; peer: Server; port: number }> {
  const seen: IncomingHttpHeaders[] = [];
  const peer = createServer((request, response) => {
    seen.push(request.headers);
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  return { seen, peer, port: (peer.address() as { port: number }).port };
}

async function eventually<T>(what: string, probe: () => T | undefined, deadlineMs = 20_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let db: TestDatabase;

beforeAll(async () => {
  receiver = await startReceiver();
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
  await new Promise((resolve) => receiver?.server.close(resolve));
});

describe('a trace across an api and a worker process', () => {
  let api: Spawned;
  let worker: Spawned;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    const env = {
      DATABASE_URL: db.url,
      SEED_DEMO_ON_START: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_SERVICE_NAME: 'boxoffice-test',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      LOG_LEVEL: 'info',
    };
    api = spawnNode(['api'], { ...env, PORT: String(port) });
    worker = spawnNode(['worker'], env);
    base = `http://127.0.0.1:${port}`;
    await waitForOk(`${base}/health/ready`, 60_000);
    await eventually(
      'the worker runs',
      () => (worker.output().includes('worker running') ? true : undefined),
      60_000,
    );
  }, 90_000);

  afterAll(async () => {
    for (const child of [api, worker]) child?.child.kill('SIGTERM');
    await Promise.all([api?.exited, worker?.exited]);
  });

  it('arrives whole: the caller’s traceparent, the request, its queries, and the consumer in the other process', async () => {
    const [buyer] = await makeUsers(db.sql, 1, 'traced');
    await makeEvent(db.sql, 7001, { layout: SMALL_HALL });
    const client = new Client(base, 4);
    try {
      const bookingId = await client.book(buyer!, 7001);
      const seat = (await client.get('/api/seats?event_id=7001', buyer!.auth)).json()[0].id;
      expect((await client.select(buyer!, bookingId, seat)).status).toBe(200);

      // The caller's own span: the request continues it.
      const traceId = randomBytes(16).toString('hex');
      const callerSpan = randomBytes(8).toString('hex');
      const cancel = await client.send('PATCH', '/api/bookings/cancel', {
        body: { booking_id: bookingId },
        auth: buyer!.auth,
        headers: { traceparent: `00-${traceId}-${callerSpan}-01` },
      });
      expect(cancel.status).toBe(200);

      const inTrace = () => receiver.spans.filter((span) => span.traceId === traceId);
      const consumer = await eventually('the worker’s consumer span', () =>
        inTrace().find(
          (span) => span.kind === OTLP_KIND.consumer && span.name === 'booking.cancelled process',
        ),
      );
      const server = inTrace().find((span) => span.kind === OTLP_KIND.server);
      expect(server).toMatchObject({
        name: 'PATCH /api/bookings/cancel',
        parentSpanId: callerSpan,
        attributes: { 'http.route': '/api/bookings/cancel', 'http.response.status_code': 200 },
      });
      expect(server!.resource).toMatchObject({ 'service.name': 'boxoffice-test', 'boxoffice.role': 'api' });

      // The request's queries are its children, in the api process.
      const queries = inTrace().filter(
        (span) => span.kind === OTLP_KIND.client && span.attributes['db.system.name'] === 'postgresql',
      );
      const requestQueries = queries.filter((span) => span.parentSpanId === server!.spanId);
      expect(requestQueries.map((span) => span.name)).toEqual(
        expect.arrayContaining(['BEGIN', 'INSERT', 'COMMIT']),
      );
      expect(
        requestQueries.some((span) => String(span.attributes['db.query.text']).includes('outbox_events')),
      ).toBe(true);
      // Statement texts carry placeholders, never a value.
      expect(JSON.stringify(requestQueries)).not.toContain(buyer!.password);

      // The event's consumer continues the request's trace in the worker process.
      expect(consumer.parentSpanId).toBe(server!.spanId);
      expect(consumer.resource['boxoffice.role']).toBe('worker');
      expect(consumer.resource['process.pid']).not.toBe(server!.resource['process.pid']);
      expect(consumer.attributes).toMatchObject({
        'messaging.destination.name': 'booking.cancelled',
        'messaging.consumer.group.name': 'tickets',
      });

      // Whole: every span's parent is in the trace, or is the caller's span.
      await eventually('the consumer’s queries', () =>
        queries.length > 0 && inTrace().some((span) => span.parentSpanId === consumer.spanId)
          ? true
          : undefined,
      );
      const ids = new Set(inTrace().map((span) => span.spanId));
      for (const span of inTrace())
        expect(ids.has(span.parentSpanId) || span.parentSpanId === callerSpan).toBe(true);
    } finally {
      client.close();
    }
  });

  it('a body that arrives in two packets: the request’s queries are still its children', async () => {
    const [buyer] = await makeUsers(db.sql, 1, 'slowbody');
    const traceId = randomBytes(16).toString('hex');
    const status = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ event_id: 7001 });
      const req = request(`${base}/api/bookings`, {
        method: 'POST',
        headers: {
          authorization: buyer!.auth,
          'content-type': 'application/json',
          'content-length': String(body.length),
          traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
        },
      });
      req.on('response', (response) => {
        response.resume();
        resolve(response.statusCode!);
      });
      req.on('error', reject);
      req.flushHeaders();
      req.write(body.slice(0, 5));
      setTimeout(() => req.end(body.slice(5)), 100);
    });
    expect(status).toBe(201);
    const server = await eventually('the request span', () =>
      receiver.spans.find((span) => span.traceId === traceId && span.kind === OTLP_KIND.server),
    );
    const children = receiver.spans.filter((span) => span.parentSpanId === server.spanId);
    expect(
      children.some((span) => /insert into bookings/i.test(String(span.attributes['db.query.text']))),
    ).toBe(true);
  });

  it('a request without traceparent starts a trace of its own', async () => {
    const answer = await fetch(`${base}/health/ready`);
    expect(answer.status).toBe(200);
    const span = await eventually('the health request span', () =>
      receiver.spans.find((s) => s.name === 'GET /health/ready' && s.parentSpanId === ''),
    );
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('in this process', () => {
  let tracing: Tracing;
  let runner: JobRunner | undefined;

  beforeAll(() => {
    tracing = startTracing({
      endpoint: receiver.endpoint,
      serviceName: 'boxoffice-unit',
      role: 'test',
      samplerRatio: 1,
      scheduleDelayMs: 100,
      maxQueueSize: 2048,
      logger: pino({ level: 'silent' }),
    });
  });
  afterAll(async () => {
    await runner?.stop();
  });

  const exported = async (traceId: string, predicate: (span: ReceivedSpan) => boolean) => {
    await tracing.flush();
    return eventually('the span', () => receiver.spans.find((s) => s.traceId === traceId && predicate(s)));
  };

  it('a fetch inside a span sends traceparent and is a client span', async () => {
    const { seen, peer, port } = await startPeer();
    try {
      const traceId = await trace.getTracer('test').startActiveSpan('outer', async (outer) => {
        await fetch(`http://127.0.0.1:${port}/hook?token=secret`, { method: 'POST', body: '{}' });
        outer.end();
        return outer.spanContext().traceId;
      });
      const span = await exported(traceId, (s) => s.kind === OTLP_KIND.client);
      expect(span.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.response.status_code': 204,
        'url.full': `http://127.0.0.1:${port}/hook`,
      });
      expect(seen[0]?.traceparent).toBe(`00-${traceId}-${span.spanId}-01`);
    } finally {
      peer.close();
    }
  });

  it('a fetch outside any span sends no traceparent and starts no trace', async () => {
    const { seen, peer, port } = await startPeer();
    const before = receiver.spans.length;
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      await tracing.flush();
      expect(seen[0]?.traceparent).toBeUndefined();
      expect(receiver.spans.slice(before).filter((s) => s.kind === OTLP_KIND.client)).toEqual([]);
    } finally {
      peer.close();
    }
  });

  it('a job enqueued inside a span continues its trace; the handler never sees the trace key', async () => {
    const handled: unknown[] = [];
    runner = await startJobRunner({
      connectionString: db.url,
      db: db.sql,
      logger: pino({ level: 'silent' }),
      concurrency: 1,
      maxAttempts: 1,
      pollIntervalMs: 200,
      tasks: {
        'tracing-test': async (payload) => {
          handled.push(payload);
        },
      },
    });
    const queue = new JobQueue(1);
    const { traceId, spanId } = await trace.getTracer('test').startActiveSpan('enqueuer', async (span) => {
      await queue.enqueue(db.sql, 'tracing-test', { seat: 5 });
      span.end();
      return span.spanContext();
    });
    const job = await exported(traceId, (s) => s.name === 'job tracing-test');
    expect(job.parentSpanId).toBe(spanId);
    expect(job.kind).toBe(OTLP_KIND.consumer);
    expect(handled).toEqual([{ seat: 5 }]);
  });

  it('log lines inside a span carry trace_id and span_id; outside, none', () => {
    const lines: string[] = [];
    const log = pino({ mixin: traceLogFields }, { write: (line: string) => lines.push(line) });
    log.info('outside');
    const ids = trace.getTracer('test').startActiveSpan('logging', (span) => {
      log.info('inside');
      span.end();
      return span.spanContext();
    });
    const [outside, inside] = lines.map((line) => JSON.parse(line));
    expect(outside.trace_id).toBeUndefined();
    expect(inside).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId, trace_flags: '01' });
  });

  it('an event on NATS carries its trace context in the traceparent header', () => {
    const traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const base = { id: '9', position: 9, key: null, createdAt: new Date() };
    const traced = eventFromMessage('t', eventHeaders({ ...base, traceContext: traceparent }), '{}');
    expect(traced.traceContext).toBe(traceparent);
    expect(
      eventFromMessage('t', eventHeaders({ ...base, traceContext: null }), '{}').traceContext,
    ).toBeNull();
  });
});
