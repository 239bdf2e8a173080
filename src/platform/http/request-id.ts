import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;
// A random prefix per process and a counter: unique across processes and restarts, and far
// cheaper than a UUID per request.
const prefix = randomBytes(6).toString('hex');
let counter = 0;

/** A sane caller-supplied `x-request-id` (e.g. from a load balancer) is kept; otherwise a new one. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && SAFE_REQUEST_ID.test(given)) return given;
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}-${counter.toString(36)}`;
}
