import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openProviders } from '../../src/notify/engine/setup.ts';
import { testConfig } from '../helpers/config.ts';

const logger = pino({ level: 'silent' });

describe('the providers a sending process uses', () => {
  it('configured ones as given, in failover order; production refuses to run without them', async () => {
    const opened = await openProviders(
      testConfig({
        SMTP_URL: 'smtp://a.test:25, smtps://u:p@b.test',
        SMS_PROVIDER_URL: 'https://sms.test/send',
      }),
      logger,
    );
    expect(opened.urls).toEqual({
      smtp: ['smtp://a.test:25', 'smtps://u:p@b.test'],
      sms: ['https://sms.test/send'],
    });
    await opened.stop();
    await expect(
      openProviders(testConfig({ NODE_ENV: 'production', SMTP_URL: 'smtp://a.test' }), logger),
    ).rejects.toThrow(/must be set in production/);
    await expect(
      openProviders(testConfig({ SMTP_URL: 'not a url', SMS_PROVIDER_URL: 'x' }), logger),
    ).rejects.toThrow(/is not a URL/);
  });

  it('none configured: starts the development peers, or uses the ones another process already runs there', async () => {
    const first = await openProviders(testConfig(), logger);
    expect(first.peers).toBeDefined();
    const [smtpPort, smsPort] = [new URL(first.urls.smtp[0]!).port, new URL(first.urls.sms[0]!).port];
    try {
      // A second process configured with the ports the first one's peers hold.
      const ports = {
        SIM_NOTIFY_SMTP_PORT: smtpPort,
        SIM_NOTIFY_SMS_PORT: smsPort,
        SIM_NOTIFY_INBOX_PORT: String(new URL(first.peers!.inboxUrl).port),
        SIM_NOTIFY_PUSH_PORT: String(new URL(first.peers!.pushUrl).port),
      };
      const second = await openProviders(testConfig(ports), logger);
      expect(second.peers).toBeUndefined();
      expect(second.urls).toEqual(first.urls);
      await second.stop();
      // The sink the first started still runs: the second did not stop it.
      const answer = await fetch(`${first.peers!.inboxUrl}/api/messages`);
      expect(answer.status).toBe(200);
      await answer.arrayBuffer();
    } finally {
      await first.stop();
    }
  });
});
