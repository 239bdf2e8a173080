import { readFileSync } from 'node:fs';
import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  ConfigSchema,
  configSections,
  configTable,
  envExample,
  loadConfig,
} from '../../src/config.ts';
import { composeConfigSchema } from '../../src/platform/config/load.ts';
import { defineConfigSection } from '../../src/platform/config/section.ts';

describe('configuration', () => {
  it('fills every default when nothing is set', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8000);
    expect(config.HOST).toBe('127.0.0.1');
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.MIGRATE_ON_START).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('converts strings from the environment to their types', () => {
    const config = loadConfig({ PORT: '9001', MIGRATE_ON_START: 'false', LOG_FORMAT: 'pretty' });
    expect(config.PORT).toBe(9001);
    expect(config.MIGRATE_ON_START).toBe(false);
    expect(config.LOG_FORMAT).toBe('pretty');
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).PORT).toBe(8000);
  });

  it.each([
    [{ PORT: 'abc' }, /PORT="abc" is invalid: expected an integer from 0 to 65535/],
    [{ PORT: '70000' }, /PORT="70000"/],
    [{ LOG_FORMAT: 'xml' }, /LOG_FORMAT="xml" is invalid: expected one of json, pretty/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL="mysql:\/\/x" is invalid/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
  ])('refuses %o with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('names every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', DB_POOL_MAX: '0' })).toThrow(/PORT=.*; DB_POOL_MAX=/);
  });

  it('.env.example is generated from the schema and lists every variable', () => {
    const committed = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    expect(committed).toBe(envExample());
    for (const key of Object.keys(ConfigSchema.properties))
      expect(committed).toMatch(new RegExp(`^#? ?${key}=`, 'm'));
  });

  it('the README configuration table is generated from the schema (npm run config:docs)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`<!-- config:begin -->\n${configTable()}\n<!-- config:end -->`);
    for (const key of Object.keys(ConfigSchema.properties)) expect(readme).toContain(`\`${key}\``);
  });

  it('is composed of the sections the modules declare, each variable from exactly one', () => {
    const declared = configSections.flatMap((section) => Object.keys(section.variables));
    expect(new Set(declared).size).toBe(declared.length);
    expect(Object.keys(ConfigSchema.properties)).toEqual(declared);
    expect(configSections.map((section) => section.name)).toEqual(
      expect.arrayContaining(['platform', 'identity', 'drops', 'booking', 'payments', 'catalog']),
    );
    // A module's variables are validated like the platform's, with the same one-line error.
    expect(() => loadConfig({ DROPS_PER_USER_LIMIT: '0' })).toThrow(
      /^Invalid configuration: DROPS_PER_USER_LIMIT="0" is invalid: expected an integer from 1 to/,
    );
  });

  it('refuses two sections that declare the same variable, naming both', () => {
    const a = defineConfigSection({
      name: 'a',
      title: 'A',
      variables: { SHARED: Type.String({ default: 'x' }) },
    });
    const b = defineConfigSection({
      name: 'b',
      title: 'B',
      variables: { SHARED: Type.String({ default: 'y' }) },
    });
    expect(() => composeConfigSchema([a, b])).toThrow(
      'configuration variable SHARED is declared by both a and b',
    );
  });

  it('documents each section under its own heading', () => {
    const table = configTable();
    for (const section of configSections) {
      const heading = table.indexOf(`**${section.title}**`);
      expect(heading).toBeGreaterThanOrEqual(0);
      for (const key of Object.keys(section.variables))
        expect(table.indexOf(`\`${key}\``)).toBeGreaterThan(heading);
    }
    expect(envExample()).toContain(`# ---- ${configSections[0].title}`);
  });
});
