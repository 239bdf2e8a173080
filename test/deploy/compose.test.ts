import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine here: the compose file cannot be run, so its structure is checked instead.
const COMPOSE = new URL('../../deploy/compose.yaml', import.meta.url);
const DEPLOY = new URL('../../deploy/', import.meta.url);

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string[];
  secrets?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  restart?: string;
  ports?: string[];
}

const compose = parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
};
const services = compose.services;
const env = Object.fromEntries(
  readFileSync(new URL('boxoffice.env.example', DEPLOY), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);
const boxofficeServices = Object.entries(services).filter(([, s]) => s.image === 'boxoffice:local');
const role = (name: string) => services[name]?.command?.[0];

describe('deploy/compose.yaml', () => {
  it('has the production topology: PostgreSQL, Redis, NATS, migrate, api × 2, worker, nginx', () => {
    expect(services.postgres?.image).toMatch(/^postgres:/);
    expect(services.redis?.image).toMatch(/^redis:/);
    expect(services.nats?.image).toMatch(/^nats:/);
    expect(services.nats?.command).toContain('--jetstream');
    expect(services.lb?.image).toMatch(/^nginx:/);
    expect(Object.keys(services).filter((name) => role(name) === 'api')).toEqual(['api-1', 'api-2']);
    expect(Object.keys(services).filter((name) => role(name) === 'worker')).toEqual(['worker']);
    expect(role('migrate')).toBe('migrate');
  });

  it('every long-running service has a healthcheck; the one-shot migrate is waited for to complete', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === 'migrate') {
        expect(service.restart).toBe('no');
        continue;
      }
      expect(service.healthcheck?.test, `${name} has no healthcheck`).toBeDefined();
      expect(service.healthcheck?.disable, name).toBeUndefined();
    }
    for (const name of ['api-1', 'api-2']) {
      expect(services[name]!.healthcheck!.test!.join(' ')).toContain('/health/ready');
    }
  });

  it('the api and worker services start after migrate succeeded and their dependencies are healthy', () => {
    const common = {
      migrate: { condition: 'service_completed_successfully' },
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      nats: { condition: 'service_healthy' },
    };
    for (const name of ['api-1', 'api-2']) expect(services[name]!.depends_on, name).toEqual(common);
    // The worker sends notifications: it waits for the (demo) notification peers too.
    expect(services.worker!.depends_on).toEqual({
      ...common,
      'notify-sim': { condition: 'service_healthy' },
    });
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(services.lb!.depends_on).toEqual({
      'api-1': { condition: 'service_healthy' },
      'api-2': { condition: 'service_healthy' },
    });
  });

  it('every boxoffice service runs the image of deploy/Dockerfile with the shared settings and the secret', () => {
    expect(boxofficeServices.length).toBeGreaterThanOrEqual(5);
    for (const [name, service] of boxofficeServices) {
      expect(service.build, name).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
      expect(service.env_file, name).toEqual(['boxoffice.env']);
      expect(service.secrets, name).toEqual(['master_key', 'merchant_password', 'payment_webhook_secret']);
      expect(service.environment?.MASTER_KEY_FILE, name).toBe('/run/secrets/master_key');
      expect(service.environment?.MERCHANT_PASSWORD_FILE, name).toBe('/run/secrets/merchant_password');
      // Migrations run once, in `migrate`; nothing else migrates or seeds at start.
      expect(service.environment?.MIGRATE_ON_START, name).toBeUndefined();
    }
    expect(compose.secrets.master_key?.file).toBe('./secrets/master_key');
    expect(readFileSync(new URL('../../.gitignore', import.meta.url), 'utf8')).toMatch(/deploy\/secrets/);
  });

  it('the shared environment names every service it needs, with one issuer and no seeding', () => {
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    expect(env.EVENTS_NATS_URL).toBe('nats://nats:4222');
    expect(env.IDENTITY_ISSUER).toMatch(/^https?:\/\//);
    expect(env.MIGRATE_ON_START).toBe('false');
    expect(env.SEED_DEMO_ON_START).toBe('false');
    expect(env.NODE_ENV).toBe('production');
    expect(env.TRUST_PROXY).toBe('uniquelocal');
    // Secrets are never in the env file.
    for (const secret of ['MASTER_KEY', 'MERCHANT_PASSWORD', 'PAYMENT_WEBHOOK_SECRET'])
      expect(env[secret], secret).toBeUndefined();
  });

  it('nginx publishes the API and the contest port; only nginx publishes ports', () => {
    expect(services.lb!.ports).toEqual(['8000:80', '8080:8080']);
    for (const [name, service] of Object.entries(services)) {
      if (name !== 'lb') expect(service.ports, name).toBeUndefined();
    }
  });

  it('the Dockerfile runs `node bin/boxoffice.js` as a non-root user', () => {
    const dockerfile = readFileSync(new URL('Dockerfile', DEPLOY), 'utf8');
    const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBeDefined();
    expect(users.at(-1)).not.toMatch(/^(root|0)$/);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["boxoffice-entrypoint"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["api"\]$/m);
    expect(readFileSync(new URL('entrypoint.sh', DEPLOY), 'utf8')).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, not a template
      'exec node "${BOXOFFICE_HOME:-/app}/bin/boxoffice.js" "$@"',
    );
    for (const copied of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) {
      expect(existsSync(new URL(`../../${copied[1]}`, import.meta.url)), copied[1]).toBe(true);
    }
  });
});
