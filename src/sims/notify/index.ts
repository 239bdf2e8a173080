import { type PushService, startPushService } from './push-service.ts';
import { type SmsProvider, startSmsProvider } from './sms-provider.ts';
import { type SmtpSink, startSmtpSink } from './smtp-sink.ts';

export type { HttpFailure, Scoped, SmtpFailure } from './faults.ts';
export * from './push-service.ts';
export * from './sms-provider.ts';
export * from './smtp-sink.ts';

export interface NotifyPeersOptions {
  host?: string;
  /** 0 (default) = any free port. */
  ports?: { smtp?: number; inbox?: number; sms?: number; push?: number };
}

export interface NotifyPeers {
  smtpUrl: string;
  inboxUrl: string;
  smsUrl: string;
  pushUrl: string;
  smtp: SmtpSink;
  sms: SmsProvider;
  push: PushService;
  stop(): Promise<void>;
}

/** Starts the SMTP sink (with its inbox API), the SMS provider and the Web Push service. */
export async function startNotifyPeers(options: NotifyPeersOptions = {}): Promise<NotifyPeers> {
  const host = options.host ?? '127.0.0.1';
  const ports = options.ports ?? {};
  const smtp = await startSmtpSink({ host, smtpPort: ports.smtp ?? 0, httpPort: ports.inbox ?? 0 });
  const sms = await startSmsProvider({ host, port: ports.sms ?? 0 }).catch(async (e: unknown) => {
    await smtp.stop();
    throw e;
  });
  const push = await startPushService({ host, port: ports.push ?? 0 }).catch(async (e: unknown) => {
    await Promise.all([smtp.stop(), sms.stop()]);
    throw e;
  });
  return {
    smtpUrl: smtp.smtpUrl,
    inboxUrl: smtp.inboxUrl,
    smsUrl: sms.url,
    pushUrl: push.url,
    smtp,
    sms,
    push,
    stop: async () => {
      await Promise.all([smtp.stop(), sms.stop(), push.stop()]);
    },
  };
}
