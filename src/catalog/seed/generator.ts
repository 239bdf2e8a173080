import { createRandom } from '../../platform/seeding.ts';
import type { EventRow } from '../types.ts';
import * as words from './vocabulary.ts';

/**
 * Deterministic generator of catalog events in the shape of the hackload release (specs/hackload-data.md).
 * Rows come in blocks of BLOCK_SIZE ids, each drawn from its own PRNG stream, so any block can be
 * regenerated alone (a re-run fills only the blocks that are missing) and comes out the same.
 */

export const BLOCK_SIZE = 10_000;
/** First id of the archive, as in the release. */
export const ARCHIVE_FIRST_ID = 100_000;

export const CURRENT_TYPES = ['film', 'cinema', 'stage', 'game'] as const;
export const ARCHIVE_TYPES = ['film', 'game', 'cinema', 'concert', 'theater', 'sport', 'exhibition'] as const;
export const CURRENT_PROVIDERS = ['TicketRu', 'EventWorld', 'ShowTime'] as const;
export const ARCHIVE_PROVIDERS = ['TicketRu', 'EventWorld', 'ShowTime', 'CultureCity', 'SportHub'] as const;

const DAY_MS = 86_400_000;
/** The archive spans 2015-01-01 to 2024-12-31 (UTC days). */
const ARCHIVE_FIRST_DAY = Date.UTC(2015, 0, 1) / DAY_MS;
const ARCHIVE_DAYS = Date.UTC(2025, 0, 1) / DAY_MS - ARCHIVE_FIRST_DAY;
/** Current events fall on the next 90 days. */
const CURRENT_DAYS = 90;

/** Event 1: the stadium concert of specs/hackload-data.md (100,000 seats in five zones). */
export function stadiumConcert(anchorMs: number): EventRow {
  return {
    id: 1,
    title: 'Большой стадионный концерт «Лето. Музыка. Мы»',
    description:
      'Главный концерт сезона на стадионе «Лужники»: 100 000 мест в пяти зонах — золотой круг, фан-зона, ' +
      'нижний, средний и верхний ярусы. Хедлайнеры — группа «Северный ветер» и Дмитрий Козлов. ' +
      'Возрастное ограничение 12+.',
    type: 'stage',
    provider: 'TicketRu',
    datetimeStart: new Date(anchorMs + 60 * DAY_MS + 17 * 3_600_000).toISOString(),
  };
}

export type Kind = 'current' | 'archive';

export interface BlockSpec {
  kind: Kind;
  seed: number;
  /** Block number: ids `first + block * BLOCK_SIZE` onwards. */
  block: number;
  /** How many events of this kind the profile asks for (the last block may be short). */
  total: number;
  /** Start of the UTC day current events count from (they fall on the following 90 days). */
  anchorMs: number;
}

export function firstId(kind: Kind): number {
  return kind === 'current' ? 1 : ARCHIVE_FIRST_ID;
}

export function blockCount(total: number): number {
  return Math.ceil(total / BLOCK_SIZE);
}

/** The ids a block holds, as [first, last]. */
export function blockIds(spec: Pick<BlockSpec, 'kind' | 'block' | 'total'>): [number, number] {
  const first = firstId(spec.kind) + spec.block * BLOCK_SIZE;
  const last = firstId(spec.kind) + Math.min(spec.total, (spec.block + 1) * BLOCK_SIZE) - 1;
  return [first, last];
}

export function generateBlock(spec: BlockSpec): EventRow[] {
  const random = createRandom(spec.seed, `catalog:${spec.kind}:${spec.block}`);
  const [first, last] = blockIds(spec);
  const rows: EventRow[] = [];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const person = () => {
    const name = pick(words.FIRST_NAMES);
    const family = pick(words.SURNAMES);
    return {
      nom: `${name.nom} ${words.surname(family, name.female, 'nom')}`,
      gen: `${name.gen} ${words.surname(family, name.female, 'gen')}`,
      ins: `${name.ins} ${words.surname(family, name.female, 'ins')}`,
    };
  };
  const types = spec.kind === 'current' ? CURRENT_TYPES : ARCHIVE_TYPES;
  const providers = spec.kind === 'current' ? CURRENT_PROVIDERS : ARCHIVE_PROVIDERS;

  for (let id = first; id <= last; id++) {
    // Event 1 is fixed, but its row still draws from the stream like any other: the rows after it
    // are the same with or without the special case.
    const type = pick(types);
    const provider = pick(providers);
    // Archive ids follow time, as ids given out when events are created do: event n of N falls near
    // day n/N of the ten years (±2 days). Loaded in id order, a day's events then share a few pages.
    const jitter = Math.floor(random() * 5) - 2;
    const day =
      spec.kind === 'current'
        ? spec.anchorMs / DAY_MS + 1 + Math.floor(random() * CURRENT_DAYS)
        : ARCHIVE_FIRST_DAY +
          Math.min(
            ARCHIVE_DAYS - 1,
            Math.max(0, Math.floor(((id - ARCHIVE_FIRST_ID) / spec.total) * ARCHIVE_DAYS) + jitter),
          );
    // 10:00 to 22:30 Moscow time (UTC+3), on the half hour.
    const minutes = 7 * 60 + Math.floor(random() * 26) * 30;
    const [title, theme] = makeTitle(type, random, pick, person);
    const description = makeDescription(theme, random, pick, person);
    if (spec.kind === 'current' && id === 1) {
      rows.push(stadiumConcert(spec.anchorMs));
      continue;
    }
    rows.push({
      id,
      title,
      description,
      type,
      provider,
      datetimeStart: new Date(day * DAY_MS + minutes * 60_000).toISOString(),
    });
  }
  return rows;
}

type Random = () => number;
type Picker = <T>(list: readonly T[]) => T;
type Person = () => { nom: string; gen: string; ins: string };
type Theme = keyof typeof words.SENTENCES;

/** A title and the theme its description is drawn from. */
function makeTitle(type: string, random: Random, pick: Picker, person: Person): [string, Theme] {
  const roll = random();
  switch (type) {
    case 'concert':
      if (roll < 0.35) return [`Сольный концерт ${person().nom}`, 'concert'];
      if (roll < 0.6) return [`${pick(words.CONCERT_KINDS)} «${pick(words.CONCERT_PROGRAMS)}»`, 'concert'];
      if (roll < 0.8) return [`Концерт группы «${pick(words.BANDS)}»`, 'concert'];
      if (roll < 0.9) return [`${person().nom}. Большой концерт в «${pick(words.VENUES)}»`, 'concert'];
      return [`Концерт «${pick(words.CONCERT_PROGRAMS)}»`, 'concert'];
    case 'stage':
      if (roll < 0.25) return [`Сольный концерт ${person().nom}`, 'concert'];
      if (roll < 0.55) return [`Спектакль «${pick(words.PLAYS)}»`, 'theater'];
      if (roll < 0.65) return [`Стендап: ${person().nom}`, 'common'];
      if (roll < 0.75) return [`Балет «${pick(words.BALLETS)}»`, 'theater'];
      if (roll < 0.85) return [`Мюзикл «${pick(words.MUSICALS)}»`, 'theater'];
      return [`Творческий вечер ${person().gen}`, 'concert'];
    case 'theater':
      if (roll < 0.5) return [`Спектакль «${pick(words.PLAYS)}»`, 'theater'];
      if (roll < 0.65) return [`Балет «${pick(words.BALLETS)}»`, 'theater'];
      if (roll < 0.8) return [`Опера «${pick(words.OPERAS)}»`, 'theater'];
      if (roll < 0.9) return [`Мюзикл «${pick(words.MUSICALS)}»`, 'theater'];
      return [`Премьера: «${pick(words.PLAYS)}»`, 'theater'];
    case 'game':
      if (roll < 0.3)
        return [`Чемпионат "${pick(words.CHAMPIONSHIPS)}" под руководством ${person().gen}`, 'game'];
      if (roll < 0.5) return [`Интеллектуальная игра «${pick(words.QUIZZES)}»`, 'game'];
      if (roll < 0.65) return [`Турнир по ${pick(words.SPORTS_DATIVE)}`, 'sport'];
      if (roll < 0.8) return [`Матч ${pick(words.TEAMS)} — ${pick(words.TEAMS)}`, 'sport'];
      if (roll < 0.9) return [`Финал лиги «${pick(words.CHAMPIONSHIPS)}»`, 'game'];
      return [`Кубок ${pick(words.CITIES_GENITIVE)} по ${pick(words.SPORTS_DATIVE)}`, 'sport'];
    case 'sport':
      if (roll < 0.35)
        return [
          `Чемпионат России по ${pick(words.SPORTS_DATIVE)}: ${pick(words.TEAMS)} — ${pick(words.TEAMS)}`,
          'sport',
        ];
      if (roll < 0.65) return [`Матч ${pick(words.TEAMS)} — ${pick(words.TEAMS)}`, 'sport'];
      if (roll < 0.85)
        return [`Кубок ${pick(words.CITIES_GENITIVE)} по ${pick(words.SPORTS_DATIVE)}`, 'sport'];
      return [`Турнир по ${pick(words.SPORTS_DATIVE)} памяти ${person().gen}`, 'sport'];
    case 'film':
      if (roll < 0.3) return [`Фильм «${pick(words.FILMS)}»`, 'film'];
      if (roll < 0.5) return [`Премьера фильма «${pick(words.FILMS)}»`, 'film'];
      if (roll < 0.7) return [`Показ фильма «${pick(words.FILMS)}»`, 'film'];
      if (roll < 0.8) return [`Ретроспектива фильмов ${person().gen}`, 'film'];
      if (roll < 0.9) return [`Кинофестиваль «${pick(words.FILM_FESTIVALS)}»`, 'film'];
      return [`Ночь кино: «${pick(words.FILMS)}»`, 'film'];
    case 'cinema':
      if (roll < 0.4) return [`Кинопоказ «${pick(words.FILMS)}»`, 'film'];
      if (roll < 0.6) return [`Кино под открытым небом: «${pick(words.FILMS)}»`, 'film'];
      if (roll < 0.8) return [`Кинофестиваль «${pick(words.FILM_FESTIVALS)}»`, 'film'];
      return [`Сеанс в IMAX: «${pick(words.FILMS)}»`, 'film'];
    default:
      if (roll < 0.35) return [`Экспозиция "${pick(words.EXHIBITS)}"`, 'exhibition'];
      if (roll < 0.75) return [`Выставка «${pick(words.EXHIBITS)}»`, 'exhibition'];
      if (roll < 0.9) return [`Выставка работ ${person().gen}`, 'exhibition'];
      return [`Экспозиция «${pick(words.EXHIBITS)}»`, 'exhibition'];
  }
}

/** One or two sentences on the theme, sometimes a practical note, and the venue: 80 to 200 characters. */
function makeDescription(theme: Theme, random: Random, pick: Picker, person: Person): string {
  const sentences = words.SENTENCES[theme];
  let text = pick(sentences);
  const roll = random();
  if (roll < 0.5) {
    const second = pick(sentences);
    if (second !== text) text += ` ${second}`;
  } else if (roll < 0.8) {
    text += ` ${pick(words.SENTENCES.common)}`;
  }
  text += ` Площадка — «${pick(words.VENUES)}».`;
  if (!text.includes('{')) return text;
  const who = person();
  return text.replaceAll('{nom}', who.nom).replaceAll('{gen}', who.gen).replaceAll('{ins}', who.ins);
}
