import { describe, expect, it } from 'vitest';
import { PAYMENT_STATUSES } from '../../src/payments/gateway/index.ts';
import {
  decide,
  type GatewayView,
  isStale,
  PAYMENT_STATES,
  type PaymentState,
} from '../../src/payments/states.ts';

const step = (state: PaymentState, gateway: GatewayView) => {
  const s = decide(state, gateway);
  return 'state' in s ? `${s.kind}:${s.state}${'reopen' in s && s.reopen ? ':reopen' : ''}` : s.kind;
};

describe('payments: what to do given our state and the gateway’s', () => {
  it('moves a payment being paid forward with the gateway', () => {
    expect(step('initiating', 'NEW')).toBe('record');
    expect(step('pending', 'FORM_SHOWED')).toBe('record');
    expect(step('pending', 'AUTHORIZED')).toBe('capture');
    expect(step('capturing', 'AUTHORIZED')).toBe('capture');
    expect(step('capturing', 'CONFIRMED')).toBe('settle');
    expect(step('initiating', 'CONFIRMED')).toBe('settle');
    expect(step('pending', 'REJECTED')).toBe('end:failed');
    expect(step('pending', 'FAILED')).toBe('end:failed');
    expect(step('pending', 'EXPIRED')).toBe('end:expired');
    expect(step('capturing', 'CANCELLED')).toBe('end:cancelled');
    expect(step('initiating', 'ABSENT')).toBe('end:failed:reopen');
  });

  it('gives money back that arrives after the payment was given up, and finishes reversals and refunds', () => {
    for (const state of ['reversing', 'failed', 'expired', 'cancelled'] as const) {
      expect(step(state, 'AUTHORIZED')).toBe('reverse');
      expect(step(state, 'CONFIRMED')).toBe('reverse');
    }
    expect(step('reversing', 'NEW')).toBe('reverse');
    expect(step('reversing', 'CANCELLED')).toBe('finish-reversal:cancelled');
    expect(step('reversing', 'REFUNDED')).toBe('finish-reversal:refunded');
    expect(step('reversing', 'EXPIRED')).toBe('finish-reversal:expired');
    expect(step('reversing', 'ABSENT')).toBe('finish-reversal:cancelled');
    expect(step('refunding', 'CONFIRMED')).toBe('reverse');
    expect(step('refunding', 'REFUNDED')).toBe('finish-refund');
    expect(step('confirmed', 'REFUNDED')).toBe('external-refund');
  });

  it('does nothing once a payment is over, or on news older than what it knows', () => {
    for (const status of PAYMENT_STATUSES) {
      expect(step('refunded', status)).toBe('none');
      if (status !== 'REFUNDED') expect(step('confirmed', status)).toBe('none');
    }
    expect(step('failed', 'REJECTED')).toBe('none');
    expect(step('confirmed', 'ABSENT')).toBe('none');
    expect(step('pending', 'ABSENT')).toBe('none');
    expect(isStale('AUTHORIZED', 'CONFIRMED')).toBe(true);
    expect(isStale('FORM_SHOWED', 'AUTHORIZED')).toBe(true);
    expect(isStale('CONFIRMED', 'AUTHORIZED')).toBe(false);
    expect(isStale('NEW', null)).toBe(false);
  });

  it('decides something for every pairing (no state is left without a rule)', () => {
    for (const state of PAYMENT_STATES) {
      for (const status of [...PAYMENT_STATUSES, 'ABSENT'] as const)
        expect(decide(state, status)).toBeDefined();
    }
  });
});
