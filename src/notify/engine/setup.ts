import type { Logger } from 'pino';
import type { Config } from '../../config.ts';
import { splitUrls } from './channels/index.ts';

export interface OpenedProviders {
  urls: { smtp: string[]; sms: string[] };
  /** The development peers' URLs when they were started here. */
  peers?: { inboxUrl: string; pushUrl: string };
  stop(): Promise<void>;
}

/** Where recipients reach this API (tracking links): NOTIFY_PUBLIC_URL, else localhost on PORT. */
export function publicUrlOf(config: Pick<Config, 'NOTIFY_PUBLIC_URL' | 'PORT'>): string {
  return (config.NOTIFY_PUBLIC_URL || `http://localhost:${config.PORT || 3000}`).replace(/\/+$/, '');
}

/**
 * The configured providers; for a channel with none, the development peers (SMTP sink, SMS provider) are
 * started in this process on SIM_NOTIFY_* and used, as `npm start` promises. Production refuses to run
 * without real providers rather than send into a sink.
 */
export async function openProviders(config: Config, logger: Logger): Promise<OpenedProviders> {
  const smtp = splitUrls(config.SMTP_URL);
  const sms = splitUrls(config.SMS_PROVIDER_URL);
  for (const url of [...smtp, ...sms]) {
    try {
      new URL(url);
    } catch {
      throw new Error(`SMTP_URL / SMS_PROVIDER_URL: "${url}" is not a URL`);
    }
  }
  if (smtp.length > 0 && sms.length > 0) return { urls: { smtp, sms }, stop: async () => {} };
  if (config.NODE_ENV === 'production')
    throw new Error(
      'SMTP_URL and SMS_PROVIDER_URL must be set in production (the development sinks are for development)',
    );
  // Loaded only when used: a deployment with real providers never runs the peers' code.
  const { startNotifyPeers } = await import('../../sims/notify/index.ts');
  const peers = await startNotifyPeers({
    host: config.SIM_NOTIFY_HOST,
    ports: {
      smtp: config.SIM_NOTIFY_SMTP_PORT,
      inbox: config.SIM_NOTIFY_INBOX_PORT,
      sms: config.SIM_NOTIFY_SMS_PORT,
      push: config.SIM_NOTIFY_PUSH_PORT,
    },
  }).catch(async (error: NodeJS.ErrnoException) => {
    // A `worker` started beside a running `npm start` finds the peers that process runs: use them.
    if (error.code === 'EADDRINUSE' && (await peersAnswer(config))) return undefined;
    throw new Error(
      `notify: cannot start the development peers on ${config.SIM_NOTIFY_HOST} (SIM_NOTIFY_*_PORT): ${error.code ?? error.message}; set SMTP_URL and SMS_PROVIDER_URL to use running providers instead`,
    );
  });
  if (!peers) {
    const host = config.SIM_NOTIFY_HOST.includes(':')
      ? `[${config.SIM_NOTIFY_HOST}]`
      : config.SIM_NOTIFY_HOST;
    const urls = {
      smtp: smtp.length > 0 ? smtp : [`smtp://${host}:${config.SIM_NOTIFY_SMTP_PORT}`],
      sms: sms.length > 0 ? sms : [`http://${host}:${config.SIM_NOTIFY_SMS_PORT}/messages`],
    };
    logger.info(urls, 'notify: using the development peers another process runs');
    return { urls, stop: async () => {} };
  }
  logger.info(
    { smtp: peers.smtpUrl, inbox: peers.inboxUrl, sms: peers.smsUrl, push: peers.pushUrl },
    'notify: development peers running (no SMTP_URL / SMS_PROVIDER_URL configured)',
  );
  return {
    urls: {
      smtp: smtp.length > 0 ? smtp : [peers.smtpUrl],
      sms: sms.length > 0 ? sms : [`${peers.smsUrl}/messages`],
    },
    peers: { inboxUrl: peers.inboxUrl, pushUrl: peers.pushUrl },
    stop: () => peers.stop(),
  };
}

/** Whether the development peers already answer on their configured ports (another process runs them). */
async function peersAnswer(config: Config): Promise<boolean> {
  const host = config.SIM_NOTIFY_HOST.includes(':') ? `[${config.SIM_NOTIFY_HOST}]` : config.SIM_NOTIFY_HOST;
  try {
    const response = await fetch(`http://${host}:${config.SIM_NOTIFY_SMS_PORT}/__sim/config`, {
      signal: AbortSignal.timeout(2000),
    });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
