import { createECDH } from 'node:crypto';
import type { Config } from '../config.ts';
import { deriveKey, loadMasterKey } from '../platform/secrets/master-key.ts';

/**
 * Notify's keys, each derived from the master key for its own purpose (so every process that shares
 * MASTER_KEY shares them, and nothing is stored): the HMAC key of tracking and unsubscribe tokens, the
 * secret providers sign their callbacks with, and the development VAPID key pair when none is configured.
 */
export interface NotifyKeys {
  tracking: Buffer;
  callbacks: Buffer;
  vapid: { publicKey: string; privateKey: string; subject: string };
}

const cache = new WeakMap<object, Promise<NotifyKeys>>();

export function notifyKeys(config: Config): Promise<NotifyKeys> {
  let found = cache.get(config);
  if (!found) {
    found = load(config);
    cache.set(config, found);
  }
  return found;
}

async function load(config: Config): Promise<NotifyKeys> {
  const master = await loadMasterKey(config);
  return {
    tracking: deriveKey(master, 'notify-tracking'),
    callbacks: deriveKey(master, 'notify-callbacks'),
    vapid: vapidKeys(config, master),
  };
}

function vapidKeys(config: Config, master: Buffer): NotifyKeys['vapid'] {
  const subject = config.VAPID_SUBJECT;
  if (config.VAPID_PUBLIC_KEY || config.VAPID_PRIVATE_KEY) {
    if (!config.VAPID_PUBLIC_KEY || !config.VAPID_PRIVATE_KEY)
      throw new Error('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are set together or not at all');
    return { publicKey: config.VAPID_PUBLIC_KEY, privateKey: config.VAPID_PRIVATE_KEY, subject };
  }
  // A P-256 private key is any scalar in [1, n): 32 HKDF bytes are one with overwhelming probability, and the
  // counter picks the next derivation in the ~2^-32 case they are not.
  for (let attempt = 0; ; attempt++) {
    const scalar = deriveKey(master, `notify-vapid-${attempt}`);
    try {
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(scalar);
      return {
        publicKey: ecdh.getPublicKey().toString('base64url'),
        privateKey: scalar.toString('base64url'),
        subject,
      };
    } catch {
      // out of range: next
    }
  }
}
