import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import type { Config } from '../../config.ts';

/** The merchant API calls of the gateway. */
export const API_CALLS = ['init', 'check', 'confirm', 'cancel'] as const;
export type ApiCall = (typeof API_CALLS)[number];

/** Failure mode 3: what the acquiring bank can do to a card payment, and the status each leads to. */
export const BANK_FAILURES = {
  NETWORK_ERROR: { status: 'FAILED', message: 'Network error talking to the issuing bank' },
  BANK_AUTH_ERROR: { status: 'FAILED', message: 'Authentication with the issuing bank failed' },
  FRAUD_SUSPECTED: { status: 'REJECTED', message: 'The card is blocked: fraud suspected' },
  ONLINE_PAYMENTS_DISABLED: { status: 'REJECTED', message: 'The card is not enabled for online payments' },
  NO_3DS: { status: 'REJECTED', message: 'The card does not support 3-D Secure' },
} as const;
export type BankFailure = keyof typeof BANK_FAILURES;
const BANK_FAILURE_NAMES = Object.keys(BANK_FAILURES) as BankFailure[];

const ApiCallSchema = Type.Union([
  Type.Literal('init'),
  Type.Literal('check'),
  Type.Literal('confirm'),
  Type.Literal('cancel'),
]);
const BankFailureSchema = Type.Union([
  Type.Literal('NETWORK_ERROR'),
  Type.Literal('BANK_AUTH_ERROR'),
  Type.Literal('FRAUD_SUSPECTED'),
  Type.Literal('ONLINE_PAYMENTS_DISABLED'),
  Type.Literal('NO_3DS'),
]);
const Probability = Type.Number({ minimum: 0, maximum: 1 });
const Ms = (maximum: number) => Type.Integer({ minimum: 0, maximum });

/** Everything about the simulator that can change while it runs (options, `configure`, `POST /__sim/config`). */
const BehaviourSchema = Type.Object({
  /** The whole gateway is down: `unavailable` answers 503/3503, `reset` cuts each connection, `stall` hangs. */
  outage: Type.Union([
    Type.Literal('none'),
    Type.Literal('unavailable'),
    Type.Literal('reset'),
    Type.Literal('stall'),
  ]),
  /** Failure mode 1: chance that a call in `lostAnswerCalls` is applied but its answer is lost. */
  lostAnswerProbability: Probability,
  lostAnswerCalls: Type.Array(ApiCallSchema),
  /** Failure mode 2: chance that a card form submit is processed but its answer is lost. */
  formFailureProbability: Probability,
  /** Of the lost answers, the share that hang for `stallMs` before the connection is cut (else cut at once). */
  stallShare: Probability,
  stallMs: Ms(3_600_000),
  /** Failure mode 3: chance that the bank fails a card payment, with one of `bankFailures` at random. */
  bankFailureProbability: Probability,
  bankFailures: Type.Array(BankFailureSchema, { minItems: 1 }),
  /** Failure mode 4: each webhook waits a random delay in [min, max] before its first attempt… */
  webhookDelayMinMs: Ms(3_600_000),
  webhookDelayMaxMs: Ms(3_600_000),
  /** …or is never sent… */
  webhookLossProbability: Probability,
  /** …or is sent twice (same delivery id). */
  webhookDuplicateProbability: Probability,
  /** Further attempts of a webhook the receiver did not take (no 2xx), after base × 2^(n-1) ms. */
  webhookRetries: Type.Integer({ minimum: 0, maximum: 20 }),
  webhookRetryBaseMs: Type.Integer({ minimum: 1, maximum: 3_600_000 }),
  webhookTimeoutMs: Type.Integer({ minimum: 1, maximum: 600_000 }),
  /** The simulator pays each new payment itself after `delayMs` with `card` (no browser needed). */
  autoPay: Type.Union([
    Type.Object({ card: Type.String({ pattern: '^[0-9]{12,19}$' }), delayMs: Ms(3_600_000) }),
    Type.Null(),
  ]),
  /** Smallest amount init accepts (minor units); the real gateway's is 1000. */
  minAmount: Type.Integer({ minimum: 1 }),
  /** paymentExpiry (minutes) when init gives none. */
  defaultExpiryMinutes: Type.Integer({ minimum: 1, maximum: 10_080 }),
  /** How long one paymentExpiry minute lasts here: 60000, or a few ms in tests. */
  expiryMinuteMs: Type.Integer({ minimum: 1, maximum: 60_000 }),
  /** How long an identical card form resubmit gets the first submit's result page again. */
  resubmitWindowMs: Ms(86_400_000),
  /**
   * How long a payment is kept once nothing more can happen to it through the card form (CONFIRMED,
   * REJECTED, FAILED, EXPIRED, CANCELLED, REFUNDED), and a settled webhook delivery: memory stays bounded
   * in long load tests. Afterwards the simulator answers 404 for it.
   */
  retainFinishedMs: Type.Integer({ minimum: 1000, maximum: 30 * 86_400_000 }),
  /** API calls a merchant may make per second before 429/1429 (null: unlimited). */
  rateLimitPerSecond: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  /** Payments a merchant may create per UTC day before 429/3015 (null: unlimited). */
  dailyPaymentLimit: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
});

export type SimulatorBehaviour = Static<typeof BehaviourSchema>;
export type BehaviourPatch = Partial<SimulatorBehaviour>;

export const DEFAULT_BEHAVIOUR: Readonly<SimulatorBehaviour> = Object.freeze({
  outage: 'none',
  lostAnswerProbability: 0,
  lostAnswerCalls: ['init'],
  formFailureProbability: 0,
  stallShare: 0.5,
  stallMs: 60_000,
  bankFailureProbability: 0,
  bankFailures: BANK_FAILURE_NAMES,
  webhookDelayMinMs: 0,
  webhookDelayMaxMs: 0,
  webhookLossProbability: 0,
  webhookDuplicateProbability: 0,
  webhookRetries: 3,
  webhookRetryBaseMs: 1000,
  webhookTimeoutMs: 30_000,
  autoPay: null,
  minAmount: 1000,
  defaultExpiryMinutes: 30,
  expiryMinuteMs: 60_000,
  resubmitWindowMs: 600_000,
  retainFinishedMs: 3_600_000,
  rateLimitPerSecond: null,
  dailyPaymentLimit: null,
} satisfies SimulatorBehaviour);

export class BehaviourError extends Error {
  override name = 'BehaviourError';
}

/** `base` with `patch` applied, or a BehaviourError naming what is wrong with the patch. */
export function applyBehaviourPatch(base: SimulatorBehaviour, patch: unknown): SimulatorBehaviour {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
    throw new BehaviourError('the behaviour patch must be a JSON object');
  const known = Object.keys(BehaviourSchema.properties);
  const unknown = Object.keys(patch).filter((key) => !known.includes(key));
  if (unknown.length > 0)
    throw new BehaviourError(
      `unknown behaviour setting(s): ${unknown.join(', ')}; known: ${known.join(', ')}`,
    );
  const next = { ...base, ...(patch as BehaviourPatch) };
  if (!Value.Check(BehaviourSchema, next)) {
    const problems = new Map<string, string>();
    for (const error of Value.Errors(BehaviourSchema, next)) {
      const key = error.instancePath.split('/')[1] ?? '';
      if (problems.has(key)) continue;
      const schema = (BehaviourSchema.properties as Record<string, unknown>)[key];
      problems.set(
        key,
        `${key}=${JSON.stringify(next[key as keyof SimulatorBehaviour])}: ${expected(schema, error.message)}`,
      );
    }
    throw new BehaviourError(`invalid behaviour: ${[...problems.values()].join('; ')}`);
  }
  if (next.webhookDelayMaxMs < next.webhookDelayMinMs) next.webhookDelayMaxMs = next.webhookDelayMinMs;
  return structuredClone(next);
}

function expected(schema: unknown, fallback: string): string {
  const s = schema as { anyOf?: { const?: unknown }[]; type?: string; minimum?: number; maximum?: number };
  if (s.anyOf?.every((option) => option.const !== undefined))
    return `must be one of ${s.anyOf.map((option) => String(option.const)).join(', ')}`;
  if (s.type === 'number' || s.type === 'integer')
    return `must be ${s.type === 'number' ? 'a number' : 'an integer'} from ${s.minimum ?? '-∞'} to ${s.maximum ?? '∞'}`;
  return fallback;
}

/** The behaviour the environment asks for (`SIM_*` variables); see docs/payments.md. */
export function behaviourFromConfig(config: Config): SimulatorBehaviour {
  return applyBehaviourPatch(DEFAULT_BEHAVIOUR, {
    lostAnswerProbability: config.SIM_LOST_ANSWER_PERCENT / 100,
    formFailureProbability: config.SIM_FORM_FAILURE_PERCENT / 100,
    stallShare: config.SIM_STALL_PERCENT / 100,
    stallMs: config.SIM_STALL_MS,
    bankFailureProbability: config.SIM_BANK_FAILURE_PERCENT / 100,
    webhookDelayMinMs: config.SIM_WEBHOOK_DELAY_MIN_MS,
    webhookDelayMaxMs: config.SIM_WEBHOOK_DELAY_MAX_MS,
    webhookLossProbability: config.SIM_WEBHOOK_LOSS_PERCENT / 100,
    webhookDuplicateProbability: config.SIM_WEBHOOK_DUPLICATE_PERCENT / 100,
    webhookRetries: config.SIM_WEBHOOK_RETRIES,
    webhookRetryBaseMs: config.SIM_WEBHOOK_RETRY_BASE_MS,
    webhookTimeoutMs: config.SIM_WEBHOOK_TIMEOUT_MS,
    autoPay:
      config.SIM_AUTO_PAY_DELAY_MS === undefined
        ? null
        : { card: config.SIM_AUTO_PAY_CARD, delayMs: config.SIM_AUTO_PAY_DELAY_MS },
  } satisfies BehaviourPatch);
}

/**
 * A fault for the next matching event only, so a test can script exactly one failure:
 * - `abort` / `stall` (an API call or `submit`): the call is applied, then its answer is lost: the
 *   connection is cut at once, or after hanging `stallMs` (default: the behaviour's).
 * - `error` (an API call): answered with this HTTP status and gateway code instead of being applied; with
 *   `paymentId`, only a call naming that payment takes it.
 * - `bank` (`submit`): the bank fails the card payment this way.
 * - `drop` / `duplicate` / `delay` (`webhook`): the next webhook is never sent, sent twice, or delayed.
 */
const FaultSchema = Type.Union([
  Type.Object({
    call: Type.Union([...ApiCallSchema.anyOf, Type.Literal('submit')]),
    fault: Type.Union([Type.Literal('abort'), Type.Literal('stall')]),
    stallMs: Type.Optional(Ms(3_600_000)),
  }),
  Type.Object({
    call: ApiCallSchema,
    fault: Type.Literal('error'),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.Integer({ minimum: 0 }),
    message: Type.Optional(Type.String()),
    /** Only a call about this payment takes the fault, so other traffic (reconciliation, other tests) can't. */
    paymentId: Type.Optional(Type.String({ minLength: 1 })),
  }),
  Type.Object({
    call: Type.Literal('submit'),
    fault: Type.Literal('bank'),
    bankFailure: BankFailureSchema,
  }),
  Type.Object({
    call: Type.Literal('webhook'),
    fault: Type.Union([Type.Literal('drop'), Type.Literal('duplicate')]),
  }),
  Type.Object({ call: Type.Literal('webhook'), fault: Type.Literal('delay'), delayMs: Ms(3_600_000) }),
]);
export type Fault = Static<typeof FaultSchema>;

export function parseFault(value: unknown): Fault {
  if (!Value.Check(FaultSchema, value))
    throw new BehaviourError(
      'a fault is {call: init|check|confirm|cancel|submit, fault: abort|stall, stallMs?} | ' +
        '{call: init|check|confirm|cancel, fault: error, status, code, message?, paymentId?} | ' +
        '{call: submit, fault: bank, bankFailure} | {call: webhook, fault: drop|duplicate} | ' +
        '{call: webhook, fault: delay, delayMs}',
    );
  return structuredClone(value);
}
