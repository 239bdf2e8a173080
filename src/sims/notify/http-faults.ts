import type { IncomingMessage, ServerResponse } from 'node:http';
import { type HttpFailure, type Scoped, sleep } from './faults.ts';
import { sendJson } from './http-peer.ts';

/** Applies an HTTP failure; true when the request was answered (or cut) by it. `slow` only delays. */
export async function applyHttpFailure(
  fault: Scoped<HttpFailure> | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  if (!fault) return false;
  switch (fault.mode) {
    case 'slow':
      await sleep(fault.delayMs);
      return false;
    case 'cut':
      req.socket.resetAndDestroy();
      return true;
    case '4xx':
      sendJson(res, fault.status ?? 400, { error: 'rejected (simulated permanent failure)' });
      return true;
    case '5xx':
      sendJson(res, fault.status ?? 503, { error: 'unavailable (simulated transient failure)' });
      return true;
    case '429':
      sendJson(
        res,
        429,
        { error: 'too many requests' },
        { 'retry-after': String(fault.retryAfterSeconds ?? 1) },
      );
      return true;
    case 'gone':
      sendJson(res, 410, { error: 'subscription gone' });
      return true;
  }
}
