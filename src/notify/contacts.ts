import type { Queryable } from '../platform/db/client.ts';
import { notifyError } from './errors.ts';

/**
 * Recipients (docs/notify.md, "Recipients"): a contact per platform user and its Web Push subscriptions.
 * A user without a contact row still has one by default (the account's email, UTC, 'en', the account's
 * active flag), which is what GET answers and what the queue uses (`recipientsForUsers`).
 */

export interface Preferences {
  channels?: { email?: boolean; push?: boolean; sms?: boolean };
  categories?: Record<string, { email?: boolean; push?: boolean; sms?: boolean; all?: boolean }>;
}

export interface ContactInput {
  email: string | null;
  phone: string | null;
  timeZone: string;
  locale: string;
  country: string | null;
  preferences: Preferences;
  active: boolean;
}

export interface Contact extends ContactInput {
  userId: number;
  /** False when no contact row exists yet: the values are the defaults derived from the user. */
  stored: boolean;
  pushSubscriptions: { id: number; endpoint: string; createdAt: string }[];
  updatedAt: string | null;
}

export interface PushSubscriptionInput {
  endpoint: string;
  p256dh: string;
  auth: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const E164 = /^\+[1-9]\d{6,14}$/;
const LOCALE = /^[a-z]{2,3}(-[A-Z]{2})?$/;
const COUNTRY = /^[A-Z]{2}$/;
const CATEGORY = /^[A-Za-z0-9_.:-]{1,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const CHANNEL_KEYS = ['email', 'push', 'sms'] as const;
const MAX_CATEGORIES = 100;

const invalid = (field: string, message: string) =>
  notifyError('NOTIFY_CONTACT_INVALID', `${field}: ${message}`, { field });

/** A real IANA zone: Intl throws a RangeError on names it does not know. */
export function isTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function switches(value: unknown, path: string, keys: readonly string[]): Record<string, boolean> {
  if (!isPlainObject(value)) throw invalid(path, 'must be an object');
  const out: Record<string, boolean> = {};
  for (const [key, flag] of Object.entries(value)) {
    if (!keys.includes(key)) throw invalid(`${path}.${key}`, `unknown key (allowed: ${keys.join(', ')})`);
    if (typeof flag !== 'boolean') throw invalid(`${path}.${key}`, 'must be true or false');
    out[key] = flag;
  }
  return out;
}

/** The preferences `optedOut` (queue.ts) reads: absent means allowed, false means opted out. */
export function parsePreferences(value: unknown): Preferences {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw invalid('preferences', 'must be an object');
  const out: Preferences = {};
  for (const key of Object.keys(value)) {
    if (key !== 'channels' && key !== 'categories')
      throw invalid(`preferences.${key}`, 'unknown key (allowed: channels, categories)');
  }
  if (value.channels !== undefined)
    out.channels = switches(value.channels, 'preferences.channels', CHANNEL_KEYS);
  if (value.categories !== undefined) {
    if (!isPlainObject(value.categories)) throw invalid('preferences.categories', 'must be an object');
    const entries = Object.entries(value.categories);
    if (entries.length > MAX_CATEGORIES)
      throw invalid('preferences.categories', `at most ${MAX_CATEGORIES} categories`);
    out.categories = {};
    for (const [category, flags] of entries) {
      if (!CATEGORY.test(category))
        throw invalid(`preferences.categories.${category}`, 'a category is 1–64 letters, digits or _.:-');
      out.categories[category] = switches(flags, `preferences.categories.${category}`, [
        ...CHANNEL_KEYS,
        'all',
      ]);
    }
  }
  return out;
}

/** The body of PUT, checked field by field; absent fields take their defaults (PUT replaces the contact). */
export function parseContactInput(body: Record<string, unknown>): ContactInput {
  const text = (field: string): string | null => {
    const value = body[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') throw invalid(field, 'must be a string');
    return value;
  };
  const email = text('email');
  if (email !== null && (email.length > 254 || !EMAIL.test(email)))
    throw invalid('email', 'not an email address');
  const phone = text('phone');
  if (phone !== null && !E164.test(phone))
    throw invalid('phone', 'must be an E.164 number: + then 7 to 15 digits, e.g. +79161234567');
  const timeZone = text('time_zone') ?? 'UTC';
  if (!isTimeZone(timeZone)) throw invalid('time_zone', `not an IANA time zone: ${timeZone}`);
  const locale = text('locale') ?? 'en';
  if (!LOCALE.test(locale)) throw invalid('locale', 'must look like ru, en or ru-RU');
  const country = text('country');
  if (country !== null && !COUNTRY.test(country))
    throw invalid('country', 'must be an ISO 3166-1 alpha-2 code in upper case, e.g. RU');
  const active = body.active ?? true;
  if (typeof active !== 'boolean') throw invalid('active', 'must be true or false');
  return { email, phone, timeZone, locale, country, preferences: parsePreferences(body.preferences), active };
}

function base64urlBytes(value: string, field: string): Buffer {
  if (!BASE64URL.test(value)) throw invalid(field, 'must be base64url');
  return Buffer.from(value.replace(/=+$/, ''), 'base64url');
}

/** The browser's PushSubscription JSON: an http(s) endpoint, a P-256 public key and a 16-byte auth secret. */
export function parsePushSubscription(body: {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}): PushSubscriptionInput {
  let url: URL;
  try {
    url = new URL(body.endpoint);
  } catch {
    throw invalid('endpoint', 'not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('endpoint', 'must be http(s)');
  const key = base64urlBytes(body.keys.p256dh, 'keys.p256dh');
  if (key.length !== 65 || key[0] !== 0x04)
    throw invalid('keys.p256dh', 'must be an uncompressed P-256 point (65 bytes starting 0x04)');
  if (base64urlBytes(body.keys.auth, 'keys.auth').length !== 16)
    throw invalid('keys.auth', 'must be 16 bytes');
  return { endpoint: body.endpoint, p256dh: body.keys.p256dh, auth: body.keys.auth };
}

const noUser = (userId: number) => notifyError('NOTIFY_CONTACT_NOT_FOUND', `no user ${userId}`);

interface ContactRow {
  user_id: string;
  stored: boolean;
  email: string | null;
  phone: string | null;
  time_zone: string;
  locale: string;
  country: string | null;
  preferences: Preferences;
  active: boolean;
  updated_at: Date | null;
  subscriptions: { id: number; endpoint: string; created_at: string }[] | null;
}

/** The contact of a user (its defaults when none is stored); NOTIFY_CONTACT_NOT_FOUND without the user. */
export async function getContact(sql: Queryable, userId: number): Promise<Contact> {
  const [row] = await sql<ContactRow[]>`
    select u.id::text as user_id, c.user_id is not null as stored,
           coalesce(c.email, u.email) as email, c.phone, coalesce(c.time_zone, 'UTC') as time_zone,
           coalesce(c.locale, 'en') as locale, c.country, coalesce(c.preferences, '{}') as preferences,
           coalesce(c.active, u.is_active) as active, c.updated_at,
           (select json_agg(json_build_object('id', p.id, 'endpoint', p.endpoint, 'created_at', p.created_at)
                            order by p.id)
            from notify_push_subscriptions p where p.user_id = u.id) as subscriptions
    from users u left join notify_contacts c on c.user_id = u.id
    where u.id = ${userId}`;
  if (!row) throw noUser(userId);
  return {
    userId: Number(row.user_id),
    stored: row.stored,
    email: row.email,
    phone: row.phone,
    timeZone: row.time_zone,
    locale: row.locale,
    country: row.country,
    preferences: row.preferences,
    active: row.active,
    updatedAt: row.updated_at ? row.updated_at.toISOString() : null,
    pushSubscriptions: (row.subscriptions ?? []).map((s) => ({
      id: Number(s.id),
      endpoint: s.endpoint,
      createdAt: new Date(s.created_at).toISOString(),
    })),
  };
}

async function assertUser(sql: Queryable, userId: number): Promise<void> {
  const [user] = await sql`select 1 from users where id = ${userId}`;
  if (!user) throw noUser(userId);
}

/** Creates or replaces the contact of an existing user. */
export async function putContact(sql: Queryable, userId: number, input: ContactInput): Promise<void> {
  await assertUser(sql, userId);
  await sql`
    insert into notify_contacts (user_id, email, phone, time_zone, locale, country, preferences, active)
    values (${userId}, ${input.email}, ${input.phone}, ${input.timeZone}, ${input.locale}, ${input.country},
            ${sql.json(input.preferences as never)}, ${input.active})
    on conflict (user_id) do update set
      email = excluded.email, phone = excluded.phone, time_zone = excluded.time_zone, locale = excluded.locale,
      country = excluded.country, preferences = excluded.preferences, active = excluded.active,
      updated_at = now()`;
}

/**
 * Adds a subscription, or re-points an endpoint already known (a browser re-subscribing, or a device that
 * changed hands) to this user with its new keys. Makes the contact row from the user when there is none.
 */
export async function upsertPushSubscription(
  sql: Queryable,
  userId: number,
  input: PushSubscriptionInput,
): Promise<{ id: number; endpoint: string; created: boolean }> {
  await assertUser(sql, userId);
  await sql`
    insert into notify_contacts (user_id, active)
    select id, is_active from users where id = ${userId}
    on conflict (user_id) do nothing`;
  const [row] = await sql<{ id: string; created: boolean }[]>`
    insert into notify_push_subscriptions (user_id, endpoint, p256dh, auth)
    values (${userId}, ${input.endpoint}, ${input.p256dh}, ${input.auth})
    on conflict (endpoint) do update set user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth
    returning id::text, (xmax = 0) as created`;
  return { id: Number(row!.id), endpoint: input.endpoint, created: row!.created };
}

/** Removes one of a user's subscriptions; false when the user has no subscription with this id. */
export async function deletePushSubscription(sql: Queryable, userId: number, id: number): Promise<boolean> {
  const rows = await sql`delete from notify_push_subscriptions where id = ${id} and user_id = ${userId}`;
  return rows.count > 0;
}
