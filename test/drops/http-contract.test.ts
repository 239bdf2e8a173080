import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  type Answer,
  type DropsServer,
  dropTestState,
  HttpClient,
  redisOverrides,
  startDropsServer,
  UUID,
} from './harness.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl)
  console.warn('skipping the drops HTTP contract with the Redis authority: REDIS_URL is not set');

const ITEMS = 200;
const LIMIT = 3;

const variants = [
  { authority: 'memory', env: () => ({}), skip: false },
  { authority: 'redis', env: () => redisOverrides(redisUrl!), skip: !redisUrl },
] as const;

for (const variant of variants) {
  describe.skipIf(variant.skip)(`drops HTTP contract (${variant.authority} authority)`, () => {
    let db: TestDatabase;
    let server: DropsServer;
    let env: Record<string, string>;
    const client = new HttpClient(8);
    // Every test takes fresh items and users, so tests do not depend on each other's leftovers.
    let nextItem = 0;
    let nextUser = 1_000;
    const freshItem = () => nextItem++;
    const freshUser = () => String(nextUser++);

    beforeAll(async () => {
      db = await createTestDatabase();
      env = variant.env();
      server = await startDropsServer(db.url, {
        ...env,
        DROPS_ITEMS_PER_SALE: String(ITEMS),
        DROPS_PER_USER_LIMIT: String(LIMIT),
      });
    });

    afterAll(async () => {
      client.close();
      await server?.stop();
      await dropTestState(env, redisUrl, db);
    });

    for (const port of ['contest', 'main'] as const) {
      describe(`on the ${port} port`, () => {
        const base = () => server[port];
        const checkout = (query: string) => client.post(`${base()}/checkout?${query}`);
        const purchase = (code: string) => client.post(`${base()}/purchase?code=${code}`);
        /** The failure code: JSON error body on the main port, plain-text message on the contest port. */
        const expectFailure = (answer: Answer, status: number, code: string, message: RegExp) => {
          expect(answer.status, answer.body).toBe(status);
          if (port === 'main') expect(JSON.parse(answer.body)).toMatchObject({ code });
          else expect(answer.body).toMatch(message);
        };
        const reserve = async (user: string, item: number) => {
          const answer = await checkout(`user_id=${user}&id=${item}`);
          expect(answer.status, answer.body).toBe(200);
          return answer.body;
        };

        it('checkout answers 200 with the code as plain text, durable by the time it answers', async () => {
          const user = freshUser();
          const item = freshItem();
          const answer = await checkout(`user_id=${user}&id=${item}`);
          expect(answer.status).toBe(200);
          expect(answer.body).toMatch(UUID);
          expect(answer.headers['content-type']).toMatch(/^text\/plain/);
          // No flush: the reservation and its attempt row were committed before the 200.
          const [reservation] = await db.sql`
            select sale, item, user_id::text as user_id from drop_reservations where code = ${answer.body}`;
          expect(reservation).toMatchObject({ item, user_id: user });
          const attempts = await db.sql`
            select outcome from drop_checkout_attempts where code = ${answer.body}`;
          expect(attempts).toEqual([{ outcome: 'reserved' }]);
        });

        it('accepts item_id for id, and both when they agree', async () => {
          const a = freshItem();
          const b = freshItem();
          await reserve(freshUser(), a);
          expect((await checkout(`item_id=${b}&user_id=${freshUser()}&id=${b}`)).status).toBe(200);
          expect((await checkout(`item_id=${freshItem()}&user_id=${freshUser()}`)).status).toBe(200);
        });

        it('purchase answers 200 OK, durable by the time it answers, and the item is sold', async () => {
          const user = freshUser();
          const item = freshItem();
          const code = await reserve(user, item);
          const answer = await purchase(code);
          expect(answer.status, answer.body).toBe(200);
          expect(answer.body).toBe('OK');
          const rows = await db.sql`
            select item, user_id::text as user_id from drop_purchases where code = ${code}`;
          expect(rows).toEqual([{ item, user_id: user }]);
          const events = await db.sql`
            select payload from outbox_events where topic = 'drop.purchased' and payload->>'code' = ${code}`;
          expect(events[0]?.payload).toMatchObject({ item: { id: item }, userId: user, code });
          expectFailure(
            await checkout(`user_id=${freshUser()}&id=${item}`),
            409,
            'DROPS_ITEM_UNAVAILABLE',
            /sold or reserved/,
          );
        });

        it('a code is single-use: a second purchase is 409', async () => {
          const code = await reserve(freshUser(), freshItem());
          expect((await purchase(code)).status).toBe(200);
          expectFailure(await purchase(code), 409, 'DROPS_CODE_USED', /already used/);
        });

        it('two racing purchases of one code: exactly one 200', async () => {
          const code = await reserve(freshUser(), freshItem());
          const answers = await Promise.all(Array.from({ length: 6 }, () => purchase(code)));
          expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
          const rows = await db.sql`select 1 from drop_purchases where code = ${code}`;
          expect(rows).toHaveLength(1);
        });

        it('409 for an item held by someone else', async () => {
          const item = freshItem();
          await reserve(freshUser(), item);
          expectFailure(
            await checkout(`user_id=${freshUser()}&id=${item}`),
            409,
            'DROPS_ITEM_UNAVAILABLE',
            /sold or reserved/,
          );
        });

        it('409 once a user holds or bought the limit; leading zeros do not make a new user', async () => {
          const user = freshUser();
          const first = await reserve(user, freshItem());
          await reserve(user, freshItem());
          await reserve(user, freshItem());
          expect((await purchase(first)).status).toBe(200);
          expectFailure(
            await checkout(`user_id=${user}&id=${freshItem()}`),
            409,
            'DROPS_USER_LIMIT',
            /limit/,
          );
          expectFailure(
            await checkout(`user_id=000${user}&id=${freshItem()}`),
            409,
            'DROPS_USER_LIMIT',
            /limit/,
          );
          // Someone else is not affected.
          await reserve(freshUser(), freshItem());
        });

        it('accepts user ids over the whole non-negative 64-bit range, stored exactly', async () => {
          for (const user of ['0', '2147483648', '9007199254740993', '9223372036854775807']) {
            const code = await reserve(user, freshItem());
            expect((await purchase(code)).status).toBe(200);
            const [row] =
              await db.sql`select user_id::text as user_id from drop_purchases where code = ${code}`;
            expect(row?.user_id).toBe(user);
          }
        });

        it('400 for every malformed checkout, and nothing is reserved', async () => {
          const item = freshItem();
          const badUser = [
            `id=${item}`,
            `user_id=&id=${item}`,
            `user_id=-1&id=${item}`,
            `user_id=abc&id=${item}`,
            `user_id=1.5&id=${item}`,
            `user_id=1e3&id=${item}`,
            `user_id=+1&id=${item}`,
            `user_id=%201&id=${item}`,
            `user_id=0x10&id=${item}`,
            `user_id=9223372036854775808&id=${item}`,
            `user_id=99999999999999999999&id=${item}`,
            `user_id=1&user_id=2&id=${item}`,
            `user_id=%zz&id=${item}`,
            `user_id=1%00&id=${item}`,
            `user_id=%00&id=${item}`,
            '',
          ];
          const badItem = [
            'user_id=1',
            'user_id=1&id=',
            `user_id=1&id=${ITEMS}`,
            'user_id=1&id=-1',
            'user_id=1&id=abc',
            `user_id=1&id=${item}.0`,
            'user_id=1&id=99999999999999999999999',
            `user_id=1&id=${item}&item_id=${item + 1}`,
            `user_id=1&id=${item}&id=${item}`,
            `user_id=1&id=${item}%00`,
          ];
          for (const query of badUser) {
            expectFailure(await checkout(query), 400, 'DROPS_BAD_USER_ID', /user_id must be/);
          }
          for (const query of badItem) {
            expectFailure(await checkout(query), 400, 'DROPS_BAD_ITEM_ID', /id \(or item_id\) must be/);
          }
          // The item was never held by any of them.
          await reserve(freshUser(), item);
        });

        it('400 for a malformed or missing code', async () => {
          const code = await reserve(freshUser(), freshItem());
          for (const query of [
            '',
            'code=',
            'code=abc',
            `code=${code}x`,
            `code=${code.slice(0, 35)}`,
            `code=${code.replace(/-/g, '')}`,
            `code=${code.slice(0, 35)}g`,
            `code=${code}&code=${code}`,
            `code=${code.slice(0, 35)}%00`,
          ]) {
            const answer = await client.post(`${base()}/purchase?${query}`);
            expectFailure(answer, 400, 'DROPS_BAD_CODE', /code must be/);
          }
          // The code still works after all that.
          expect((await purchase(code.toUpperCase())).status).toBe(200);
        });

        it('409 for a well-formed code that was never issued', async () => {
          expectFailure(
            await purchase('00000000-0000-4000-8000-000000000000'),
            409,
            'DROPS_CODE_UNKNOWN',
            /no live checkout/,
          );
        });

        if (port === 'contest') {
          it('404 for another path, 405 for another method', async () => {
            expect((await client.post(`${base()}/nope`)).status).toBe(404);
            const get = await client.send('GET', `${base()}/checkout?user_id=1&id=1`);
            expect(get.status).toBe(405);
            expect(get.headers.allow).toBe('POST');
          });
        }
      });
    }

    it('records every checkout attempt with its outcome, whatever the port', async () => {
      const count = async () =>
        Object.fromEntries(
          (
            await db.sql<{ outcome: string; n: number }[]>`
              select outcome::text, count(*)::int as n from drop_checkout_attempts group by 1`
          ).map((row) => [row.outcome, row.n]),
        );
      await server.drops.service!.flush();
      const before = await count();
      const sent: Answer[] = [];
      for (const base of [server.contest, server.main]) {
        const item = freshItem();
        sent.push(await client.post(`${base}/checkout?user_id=${freshUser()}&id=${item}`));
        sent.push(await client.post(`${base}/checkout?user_id=${freshUser()}&id=${item}`));
        sent.push(await client.post(`${base}/checkout?user_id=nope&id=${item}`));
      }
      expect(sent.map((a) => a.status)).toEqual([200, 409, 400, 200, 409, 400]);
      await server.drops.service!.flush();
      const after = await count();
      const delta = (outcome: string) => (after[outcome] ?? 0) - (before[outcome] ?? 0);
      expect({
        reserved: delta('reserved'),
        unavailable: delta('unavailable'),
        invalid: delta('invalid'),
      }).toEqual({ reserved: 2, unavailable: 2, invalid: 2 });
    });

    it("counts the contest port's answers by route and status in /metrics, with the peak RSS", async () => {
      const scrape = async () => {
        const text = (await client.send('GET', `${server.main}/metrics`)).body;
        const answers: Record<string, number> = {};
        for (const m of text.matchAll(
          /^drops_contest_requests_total\{route="([^"]+)",status="(\d+)"\} (\d+)$/gm,
        )) {
          answers[`${m[1]} ${m[2]}`] = Number(m[3]);
        }
        const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
        return {
          answers,
          maxRss: gauge('process_max_resident_memory_bytes'),
          rss: gauge('process_resident_memory_bytes'),
        };
      };
      const before = await scrape();
      const item = freshItem();
      const code = (await client.post(`${server.contest}/checkout?user_id=${freshUser()}&id=${item}`)).body;
      const statuses = [
        (await client.post(`${server.contest}/checkout?user_id=${freshUser()}&id=${item}`)).status,
        (await client.post(`${server.contest}/checkout?user_id=x&id=${item}`)).status,
        (await client.post(`${server.contest}/purchase?code=${code}`)).status,
        (await client.post(`${server.contest}/purchase?code=${code}`)).status,
        (await client.post(`${server.contest}/nope`)).status,
      ];
      expect(statuses).toEqual([409, 400, 200, 409, 404]);
      const peakBefore = process.resourceUsage().maxRSS * 1024;
      const after = await scrape();
      const peakAfter = process.resourceUsage().maxRSS * 1024;
      const delta = (key: string) => (after.answers[key] ?? 0) - (before.answers[key] ?? 0);
      expect({
        checkout200: delta('/checkout 200'),
        checkout409: delta('/checkout 409'),
        checkout400: delta('/checkout 400'),
        purchase200: delta('/purchase 200'),
        purchase409: delta('/purchase 409'),
        other404: delta('other 404'),
      }).toEqual({
        checkout200: 1,
        checkout409: 1,
        checkout400: 1,
        purchase200: 1,
        purchase409: 1,
        other404: 1,
      });
      // The server runs in this process: its high-water mark lies between ours read just before and after.
      expect(after.maxRss).toBeGreaterThanOrEqual(peakBefore);
      expect(after.maxRss).toBeLessThanOrEqual(peakAfter);
      expect(after.maxRss).toBeGreaterThan(0);
    });

    it('GET /api/drops/current reports the open sale', async () => {
      await server.drops.service!.flush();
      const current = await client.json<Record<string, unknown>>(`${server.main}/api/drops/current`);
      const [counts] = await db.sql<{ sold: number; held: number }[]>`
        select (select count(*)::int from drop_purchases) as sold,
               (select count(*)::int from drop_reservations r
                where expires_at > now() and not exists (select 1 from drop_purchases p where p.code = r.code)) as held`;
      expect(current).toMatchObject({
        items: ITEMS,
        sold: counts!.sold,
        reserved: counts!.held,
        left: ITEMS - counts!.sold - counts!.held,
        perUserLimit: LIMIT,
        reservationSeconds: 60,
      });
      expect(typeof current.sale).toBe('number');
      expect(Date.parse(current.endsAt as string) - Date.parse(current.startsAt as string)).toBe(3_600_000);
      expect(current.firstCheckoutAt).not.toBeNull();
    });

    it('GET /api/drops/{sale}/items pages through the items with their status', async () => {
      const { sale } = await client.json<{ sale: number }>(`${server.main}/api/drops/current`);
      const sold = freshItem();
      const held = freshItem();
      expect(
        (
          await client.post(
            `${server.contest}/purchase?code=${
              (
                await client.post(`${server.contest}/checkout?user_id=${freshUser()}&id=${sold}`)
              ).body
            }`,
          )
        ).status,
      ).toBe(200);
      await client.post(`${server.contest}/checkout?user_id=${freshUser()}&id=${held}`);
      const seen: { id: number; name: string; imageUrl: string; status: string }[] = [];
      let offset: number | null = 0;
      while (offset !== null) {
        const page: { nextOffset: number | null; items: typeof seen; total: number } = await client.json(
          `${server.main}/api/drops/${sale}/items?offset=${offset}&limit=64`,
        );
        expect(page.total).toBe(ITEMS);
        seen.push(...page.items);
        offset = page.nextOffset;
      }
      expect(seen.map((i) => i.id)).toEqual(Array.from({ length: ITEMS }, (_, i) => i));
      expect(seen[sold]?.status).toBe('sold');
      expect(seen[held]?.status).toBe('reserved');
      expect(seen[ITEMS - 1]?.status).toBe('available');
      expect(seen[0]?.name).toMatch(/#1$/);
      expect(seen[0]?.imageUrl).toMatch(/^https:\/\//);
      // Sales that have not started do not exist yet (past sales: see rollover.test.ts).
      expect((await client.send('GET', `${server.main}/api/drops/${sale + 1}/items`)).status).toBe(404);
      expect((await client.send('GET', `${server.main}/api/drops/${sale}/items?limit=1001`)).status).toBe(
        400,
      );
      expect((await client.send('GET', `${server.main}/api/drops/${sale}/items?limit=0`)).status).toBe(400);
      expect((await client.send('GET', `${server.main}/api/drops/-1/items`)).status).toBe(400);
      expect((await client.send('GET', `${server.main}/api/drops/abc/items`)).status).toBe(400);
    });

    it('documents the routes in the OpenAPI description', async () => {
      const spec = await client.json<{ paths: Record<string, unknown> }>(`${server.main}/openapi.json`);
      expect(Object.keys(spec.paths)).toEqual(
        expect.arrayContaining(['/checkout', '/purchase', '/api/drops/current', '/api/drops/{sale}/items']),
      );
    });
  });
}
