import { describe, expect, it } from 'vitest';
import { MemoryAuthority } from '../../src/drops/memory-authority.ts';
import { SaleClock } from '../../src/drops/sale-clock.ts';
import { authorityContract } from './authority-contract.ts';

describe('MemoryAuthority', () => {
  authorityContract({
    open: async (options) => new MemoryAuthority(options),
    close: async () => {},
  });

  it('control: two processes with their own memory both sell the same item (why a second one is refused)', () => {
    const sale = new SaleClock(0, 3_600_000).at(Date.now());
    const now = sale.startsAt + 1;
    const [a, b] = [1, 2].map(() => new MemoryAuthority({ items: 1, perUserLimit: 10 }));
    const first = a!.checkout(sale, '1', 0, now, now + 60_000);
    const second = b!.checkout(sale, '2', 0, now, now + 60_000);
    // Both "win": only one shared authority (Redis), or one process (the guard), prevents this.
    expect(typeof first).toBe('string');
    expect(typeof second).toBe('string');
  });
});
