import { randomUUID } from 'node:crypto';
import { FaultBox, type HttpFailure, parseFailure, readBody, type Scoped } from './faults.ts';
import { applyHttpFailure } from './http-faults.ts';
import { handleSimAdmin, listenHttp, sendJson } from './http-peer.ts';

export type SmsFailure = Exclude<HttpFailure, { mode: 'gone' }>;

export interface SmsProviderOptions {
  host?: string;
  port?: number;
  /** Messages kept; default 10,000. */
  capacity?: number;
  behaviour?: Scoped<SmsFailure> | null;
}

export interface SmsMessage {
  id: string;
  to: string;
  text: string;
  /** Other fields of the request (sender, reference…). */
  extra: Record<string, unknown>;
  receivedAt: string;
}

export interface SmsProvider {
  readonly url: string;
  messages(filter?: { to?: string }): SmsMessage[];
  clear(): void;
  configure(behaviour: Scoped<SmsFailure> | null): void;
  inject(fault: Scoped<SmsFailure>): void;
  stop(): Promise<void>;
}

/**
 * An SMS provider API: `POST /messages` `{to, text, ...}` → 202 `{id}`, `GET /messages?to=`; failures
 * (4xx, 5xx, 429 + Retry-After, slow, cut) via `POST /__sim/config` and one-shot `POST /__sim/faults`.
 */
export async function startSmsProvider(options: SmsProviderOptions = {}): Promise<SmsProvider> {
  const capacity = options.capacity ?? 10_000;
  const faults = new FaultBox<SmsFailure>();
  faults.behaviour = options.behaviour ?? null;
  const store: SmsMessage[] = [];
  const list = (to?: string) => store.filter((m) => !to || m.to === to);
  const http = await listenHttp(options.host ?? '127.0.0.1', options.port ?? 0, async (req, res, url) => {
    const path = url.pathname;
    if (path === '/messages' && req.method === 'POST') {
      const body = JSON.parse((await readBody(req, 64 * 1024)).toString()) as unknown;
      const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      const fault = faults.take(typeof b.to === 'string' ? b.to : undefined);
      if (await applyHttpFailure(fault, req, res)) return;
      const { to, text, ...extra } = b;
      if (typeof to !== 'string' || !/^\+?[0-9]{5,15}$/.test(to))
        return sendJson(res, 422, { error: 'to must be a phone number' });
      if (typeof text !== 'string' || text === '') return sendJson(res, 422, { error: 'text is required' });
      const message: SmsMessage = { id: randomUUID(), to, text, extra, receivedAt: new Date().toISOString() };
      store.push(message);
      if (store.length > capacity) store.splice(0, store.length - capacity);
      return sendJson(res, 202, { id: message.id });
    }
    if (path === '/messages' && req.method === 'GET')
      return sendJson(res, 200, { messages: list(url.searchParams.get('to') ?? undefined) });
    const forget = () => {
      store.length = 0;
    };
    if (await handleSimAdmin(req, res, path, { kind: 'sms', faults, forget })) return;
    sendJson(res, 404, { error: 'not found' });
  });
  return {
    url: http.url,
    messages: (filter) => list(filter?.to),
    clear: () => {
      store.length = 0;
    },
    configure: (behaviour) => {
      faults.behaviour = behaviour === null ? null : parseFailure<SmsFailure>('sms', behaviour);
    },
    inject: (fault) => faults.inject(parseFailure<SmsFailure>('sms', fault)),
    stop: () => http.stop(),
  };
}
