import { Type } from 'typebox';
import { Bool, defineConfigSection } from '../platform/config/section.ts';

const port = (value: number, description: string) =>
  Type.Integer({ minimum: 0, maximum: 65535, default: value, description });

/** The notify section of the configuration (see docs/notify.md). */
export const notifyConfig = defineConfigSection({
  name: 'notify',
  title: 'Notify: providers, the delivery engine, tracking',
  variables: {
    NOTIFY_ENABLED: Bool(
      true,
      'Run the notify module: its routes, delivery workers, schedules and campaigns.',
    ),
    SMTP_URL: Type.String({
      default: '',
      description:
        'Email providers in failover order, comma-separated SMTP URLs (smtp://user:pass@host:587, smtps://…). Empty: the development SMTP sink is started on SIM_NOTIFY_HOST:SIM_NOTIFY_SMTP_PORT and used.',
    }),
    SMS_PROVIDER_URL: Type.String({
      default: '',
      description:
        'SMS providers in failover order, comma-separated URLs: each message is POSTed there as JSON {to, text, reference}, 2xx = accepted. Empty: the development SMS provider is started and used.',
    }),
    VAPID_PUBLIC_KEY: Type.String({
      default: '',
      description:
        'Web Push VAPID public key (base64url, uncompressed P-256). Empty: a key pair derived from MASTER_KEY (stable across restarts and processes).',
    }),
    VAPID_PRIVATE_KEY: Type.String({ default: '', description: 'Web Push VAPID private key (base64url).' }),
    VAPID_SUBJECT: Type.String({
      default: 'mailto:notify@boxoffice.local',
      description: 'VAPID `sub` claim: a mailto: or https: contact for push services (RFC 8292).',
    }),
    NOTIFY_EMAIL_FROM: Type.String({
      default: 'Boxoffice <no-reply@boxoffice.local>',
      description: 'The From of every email.',
    }),
    NOTIFY_PUBLIC_URL: Type.String({
      default: '',
      description:
        'Base URL recipients reach this API at, for open pixels, click links and unsubscribe pages. Empty: http://localhost:PORT.',
    }),
    NOTIFY_BATCH_SIZE: Type.Integer({
      minimum: 1,
      maximum: 5000,
      default: 500,
      description:
        'Deliveries a worker claims at once (one statement); their status changes are written together.',
    }),
    NOTIFY_CONCURRENCY: Type.Integer({
      minimum: 1,
      maximum: 2000,
      default: 64,
      description:
        'Sends in flight per worker process (the instant lane has its own NOTIFY_INSTANT_CONCURRENCY).',
    }),
    NOTIFY_INSTANT_CONCURRENCY: Type.Integer({
      minimum: 1,
      maximum: 500,
      default: 16,
      description: 'Sends in flight for instant notifications per worker: never queued behind a campaign.',
    }),
    NOTIFY_LEASE_SECONDS: Type.Integer({
      minimum: 5,
      maximum: 3600,
      default: 120,
      description:
        'How long a claimed delivery is held by its worker; a worker that died is replaced after this.',
    }),
    NOTIFY_MAX_ATTEMPTS: Type.Integer({
      minimum: 1,
      maximum: 50,
      default: 8,
      description: 'Attempts of a transient failure before the delivery becomes a dead letter.',
    }),
    NOTIFY_RETRY_BASE_MS: Type.Integer({
      minimum: 1,
      maximum: 3600000,
      default: 2000,
      description: 'First retry delay; doubled each attempt, with full jitter, up to NOTIFY_RETRY_MAX_MS.',
    }),
    NOTIFY_RETRY_MAX_MS: Type.Integer({
      minimum: 1,
      maximum: 86400000,
      default: 3600000,
      description: 'Longest retry delay.',
    }),
    NOTIFY_SEND_TIMEOUT_MS: Type.Integer({
      minimum: 100,
      maximum: 300000,
      default: 10000,
      description: 'One provider call, after which it counts as a transient failure.',
    }),
    NOTIFY_PROVIDER_RATE: Type.String({
      default: '',
      description:
        'Sends per second per provider and process, e.g. `email=2000,sms=200,push=1000` (a channel name covers its providers; a provider URL may be named instead). Empty: unlimited.',
    }),
    NOTIFY_QUIET_HOURS: Type.String({
      default: 'marketing=22:00-08:00',
      description:
        'Categories not sent at night in the recipient’s time zone: `category=HH:MM-HH:MM,…`. Deliveries due inside are held until it ends. Transactional mail has none; `none` turns them off.',
    }),
    NOTIFY_RETENTION_DAYS: Type.Integer({
      minimum: 1,
      maximum: 3650,
      default: 90,
      description: 'Days of delivery rows kept (a day is one partition, dropped whole); analytics are kept.',
    }),
    SIM_NOTIFY_HOST: Type.String({
      default: '127.0.0.1',
      description: 'Host the development SMTP sink, SMS provider and push service listen on (when started).',
    }),
    SIM_NOTIFY_SMTP_PORT: port(2525, 'Port of the development SMTP sink (0 = any free port).'),
    SIM_NOTIFY_INBOX_PORT: port(8025, 'Port of the development inbox HTTP API (GET /api/messages).'),
    SIM_NOTIFY_SMS_PORT: port(8091, 'Port of the development SMS provider.'),
    SIM_NOTIFY_PUSH_PORT: port(8092, 'Port of the development Web Push service.'),
  },
});
