import { createRandom } from '../platform/seeding.ts';
import { legacyHash, sha256Hex } from './passwords.ts';
import type { UserRow } from './store.ts';

const FIRST_NAMES = [
  'aysultan',
  'ayaulym',
  'sultan',
  'aruzhan',
  'nursultan',
  'alibek',
  'dana',
  'daniyar',
  'yerlan',
  'zhanna',
  'madina',
  'timur',
  'kamila',
  'ruslan',
  'asel',
  'dmitriy',
  'anna',
  'ivan',
  'elena',
  'sergey',
  'olga',
  'maxim',
  'irina',
  'artem',
  'nikolay',
  'tatiana',
  'arman',
  'dinara',
  'bauyrzhan',
  'gulnara',
  'aigerim',
  'yerzhan',
  'aliya',
  'marat',
  'saule',
  'askar',
  'botagoz',
  'kirill',
  'ekaterina',
  'pavel',
];
const SURNAMES = [
  'talgat',
  'bazarbaeva',
  'sultanov',
  'nurlanov',
  'akhmetova',
  'kozlov',
  'petrov',
  'ivanova',
  'smirnov',
  'kassymov',
  'zhunusova',
  'omarov',
  'seitkali',
  'abenova',
  'tulegenov',
  'bekova',
  'sokolov',
  'popova',
  'volkov',
  'morozova',
  'lebedev',
  'novikova',
  'mukhametov',
  'sarsenbayeva',
  'kuanyshev',
  'dzhaksybekov',
  'yessenova',
  'baimukhanov',
  'kairatova',
  'orlov',
];
/** A few release rows carry non-ASCII letters in the local part. */
const NON_ASCII_FIRST_NAMES = ['gülnara', 'äsel', 'ökesh', 'şolpan'];
const DOMAINS = [
  'fest.tix',
  'quick.pass',
  'show.go',
  'ticket.world',
  'hackhload.kz',
  'cool.ti',
  'grab.coffee',
  'event.me',
  'concert.fun',
  'live.now',
];

/** Real pairs from the release that the organizers' load tests use; they exist in every generated set. */
const KNOWN_USERS: Record<number, { first: string; last: string; domain: string; password: string }> = {
  1: { first: 'aysultan', last: 'talgat', domain: 'fest.tix', password: '/8eC$AD>' },
  2: { first: 'sultan', last: 'sultanov', domain: 'show.go', password: '*IVSf?kh)xa' },
  3: { first: 'ayaulym', last: 'bazarbaeva', domain: 'quick.pass', password: 'LDb60_%]4' },
};

const DAY_MS = 86_400_000;
const REGISTRATION_START = Date.UTC(2018, 0, 1);
const REGISTRATION_SPAN = Date.UTC(2025, 0, 1) - REGISTRATION_START;

export interface GeneratedUser {
  row: UserRow;
  password: string;
}

/**
 * User `id` of the generated set for `seed`: computed from its own PRNG stream, so any one user
 * (e.g. for a benchmark's credentials) is known without generating the others.
 */
export function generateUser(seed: number, id: number): GeneratedUser {
  const random = createRandom(seed, `user:${id}`);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const known = KNOWN_USERS[id];
  const first = known?.first ?? (random() < 0.002 ? pick(NON_ASCII_FIRST_NAMES) : pick(FIRST_NAMES));
  const last = known?.last ?? pick(SURNAMES);
  const domain = known?.domain ?? pick(DOMAINS);
  let password = known?.password ?? '';
  if (!known) {
    const length = 8 + Math.floor(random() * 9);
    for (let i = 0; i < length; i++) password += String.fromCharCode(33 + Math.floor(random() * 94));
  }
  const registered = REGISTRATION_START + Math.floor(random() * REGISTRATION_SPAN);
  const hasBirthday = random() >= 0.3;
  const birthday = new Date(Date.UTC(1955, 0, 1) + Math.floor(random() * 50 * 365) * DAY_MS);
  const active = known ? true : random() < 0.8;
  const lastLoggedIn = random() < 0.7 ? registered + Math.floor(random() * 300) * DAY_MS : undefined;
  const capitalize = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);
  return {
    password,
    row: {
      id,
      email: `${first}_${last}_${id}@${domain}`,
      passwordHash: legacyHash(sha256Hex(password)),
      firstName: capitalize(first),
      surname: capitalize(last),
      birthday: hasBirthday ? birthday.toISOString().slice(0, 10) : null,
      registeredAt: new Date(registered).toISOString(),
      isActive: active,
      lastLoggedIn: lastLoggedIn === undefined ? null : new Date(lastLoggedIn).toISOString(),
    },
  };
}

/** Credentials of generated user `id` (1-based) for `seed`: for tests and benchmarks. */
export function seededUserCredentials(
  seed: number,
  id: number,
): { email: string; password: string; active: boolean } {
  const { row, password } = generateUser(seed, id);
  return { email: row.email, password, active: row.isActive };
}
