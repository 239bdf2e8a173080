import {
  createDecipheriv,
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  randomUUID,
  verify,
} from 'node:crypto';
import { FaultBox, type HttpFailure, parseFailure, readBody, type Scoped } from './faults.ts';
import { applyHttpFailure } from './http-faults.ts';
import { handleSimAdmin, listenHttp, sendJson } from './http-peer.ts';

export interface PushServiceOptions {
  host?: string;
  port?: number;
  behaviour?: Scoped<HttpFailure> | null;
}

/** What a browser's `PushSubscription.toJSON()` gives the application server. */
export interface PushSubscriptionJson {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface ReceivedPush {
  subscriptionId: string;
  /** The decrypted payload (empty for a push without a body). */
  plaintext: Buffer;
  ttl: number | null;
  urgency: string | null;
  topic: string | null;
  /** The VAPID public key (base64url) that signed it. */
  vapidKey: string;
  receivedAt: string;
}

export interface PushService {
  readonly url: string;
  /** A new subscription with its own P-256 key pair and auth secret, as a browser makes one. */
  createSubscription(): PushSubscriptionJson;
  /** Removes a subscription: pushes to it get 410 Gone. */
  removeSubscription(idOrEndpoint: string): void;
  received(filter?: { subscriptionId?: string }): ReceivedPush[];
  clear(): void;
  configure(behaviour: Scoped<HttpFailure> | null): void;
  /** One-shot failure; `to` scopes it to a subscription id. */
  inject(fault: Scoped<HttpFailure>): void;
  stop(): Promise<void>;
}

export class PushRejection extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const b64u = (value: string) => Buffer.from(value, 'base64url');

/** Checks a VAPID `Authorization: vapid t=…, k=…` (RFC 8292) for `audience`; returns the key (base64url). */
export function verifyVapid(header: string | undefined, audience: string, now = Date.now()): string {
  const match = /^vapid\s+(.+)$/i.exec(header ?? '');
  if (!match) throw new PushRejection(401, 'missing VAPID authorization');
  const params = new Map<string, string>();
  for (const part of match[1]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const token = params.get('t');
  const k = params.get('k');
  if (!token || !k) throw new PushRejection(401, 'VAPID needs t= and k=');
  const raw = b64u(k);
  if (raw.length !== 65 || raw[0] !== 4) throw new PushRejection(401, 'k is not an uncompressed P-256 point');
  const [head, body, signature] = token.split('.');
  if (!head || !body || !signature) throw new PushRejection(401, 'malformed VAPID JWT');
  let header_: { alg?: string };
  let claims: { aud?: string; exp?: number; sub?: string };
  try {
    header_ = JSON.parse(b64u(head).toString()) as typeof header_;
    claims = JSON.parse(b64u(body).toString()) as typeof claims;
  } catch {
    throw new PushRejection(401, 'malformed VAPID JWT');
  }
  if (header_.alg !== 'ES256') throw new PushRejection(401, 'VAPID JWT must be ES256');
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: raw.subarray(1, 33).toString('base64url'),
      y: raw.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const ok = verify(
    'sha256',
    Buffer.from(`${head}.${body}`),
    { key, dsaEncoding: 'ieee-p1363' },
    b64u(signature),
  );
  if (!ok) throw new PushRejection(401, 'bad VAPID signature');
  const seconds = Math.floor(now / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= seconds)
    throw new PushRejection(401, 'VAPID JWT expired');
  if (claims.exp > seconds + 24 * 3600) throw new PushRejection(401, 'VAPID exp more than 24 h ahead');
  if (claims.aud !== audience) throw new PushRejection(403, `VAPID aud must be ${audience}`);
  return k;
}

/** Decrypts an `aes128gcm` Web Push body (RFC 8291 over RFC 8188) with the subscription's keys. */
export function decryptWebPush(
  body: Buffer,
  uaPrivate: Buffer,
  uaPublic: Buffer,
  authSecret: Buffer,
): Buffer {
  if (body.length < 21) throw new PushRejection(400, 'aes128gcm body too short');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  if (idlen !== 65 || rs < 18) throw new PushRejection(400, 'bad aes128gcm header');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(uaPrivate);
  let secret: Buffer;
  try {
    secret = ecdh.computeSecret(asPublic);
  } catch {
    throw new PushRejection(400, 'bad sender public key');
  }
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const baseNonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const records = body.subarray(21 + idlen);
  const out: Buffer[] = [];
  for (let offset = 0, seq = 0; offset < records.length; offset += rs, seq++) {
    const record = records.subarray(offset, offset + rs);
    const last = offset + rs >= records.length;
    const nonce = Buffer.from(baseNonce);
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ seq) >>> 0, 8); // seq < 2^32
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    } catch {
      throw new PushRejection(400, 'decryption failed');
    }
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (end < 0 || plain[end] !== (last ? 2 : 1))
      throw new PushRejection(400, 'bad record padding delimiter');
    out.push(plain.subarray(0, end));
  }
  return Buffer.concat(out);
}

interface Subscription {
  id: string;
  privateKey: Buffer;
  publicKey: Buffer;
  auth: Buffer;
}

/**
 * A Web Push service (RFC 8030, receiving side): `POST /push/{id}` with an `aes128gcm` body and VAPID
 * authorization → 201; unknown or removed subscriptions → 410. Payloads are decrypted and kept.
 */
export async function startPushService(options: PushServiceOptions = {}): Promise<PushService> {
  const faults = new FaultBox<HttpFailure>();
  faults.behaviour = options.behaviour ?? null;
  const subscriptions = new Map<string, Subscription>();
  const received: ReceivedPush[] = [];
  let origin = '';
  const http = await listenHttp(options.host ?? '127.0.0.1', options.port ?? 0, async (req, res, url) => {
    const path = url.pathname;
    const push = /^\/push\/([^/]+)$/.exec(path);
    if (push && req.method === 'POST') {
      const id = push[1]!;
      const body = await readBody(req, 8 * 1024);
      if (await applyHttpFailure(faults.take(id), req, res)) return;
      const subscription = subscriptions.get(id);
      if (!subscription) return sendJson(res, 410, { error: 'subscription gone' });
      try {
        const vapidKey = verifyVapid(req.headers.authorization, origin);
        if (body.length > 4096) throw new PushRejection(413, 'payload too large');
        if (body.length > 0 && req.headers['content-encoding'] !== 'aes128gcm')
          throw new PushRejection(415, 'content-encoding must be aes128gcm');
        const plaintext =
          body.length === 0
            ? Buffer.alloc(0)
            : decryptWebPush(body, subscription.privateKey, subscription.publicKey, subscription.auth);
        const ttl = req.headers.ttl === undefined ? null : Number(req.headers.ttl);
        received.push({
          subscriptionId: id,
          plaintext,
          ttl,
          urgency: (req.headers.urgency as string | undefined) ?? null,
          topic: (req.headers.topic as string | undefined) ?? null,
          vapidKey,
          receivedAt: new Date().toISOString(),
        });
        return sendJson(res, 201, undefined, { location: `${origin}/messages/${randomUUID()}` });
      } catch (error) {
        if (error instanceof PushRejection) return sendJson(res, error.status, { error: error.message });
        throw error;
      }
    }
    if (await handleSimAdmin(req, res, path, { kind: 'push', faults })) return;
    if (path === '/__sim/subscriptions' && req.method === 'POST') return sendJson(res, 201, create());
    sendJson(res, 404, { error: 'not found' });
  });
  origin = http.url;
  const create = (): PushSubscriptionJson => {
    const ecdh = createECDH('prime256v1');
    const publicKey = ecdh.generateKeys();
    const id = randomUUID();
    const auth = randomBytes(16);
    subscriptions.set(id, { id, privateKey: ecdh.getPrivateKey(), publicKey, auth });
    return {
      endpoint: `${origin}/push/${id}`,
      keys: { p256dh: publicKey.toString('base64url'), auth: auth.toString('base64url') },
    };
  };
  return {
    url: http.url,
    createSubscription: create,
    removeSubscription: (idOrEndpoint) => {
      subscriptions.delete(idOrEndpoint.split('/').pop() ?? idOrEndpoint);
    },
    received: (filter) =>
      received.filter((r) => !filter?.subscriptionId || r.subscriptionId === filter.subscriptionId),
    clear: () => {
      received.length = 0;
    },
    configure: (behaviour) => {
      faults.behaviour = behaviour === null ? null : parseFailure<HttpFailure>('push', behaviour);
    },
    inject: (fault) => faults.inject(parseFailure<HttpFailure>('push', fault)),
    stop: () => http.stop(),
  };
}
