/** What the circuit breaker tests share: a clock moved by hand, a promise settled by hand, and two kinds of failure. */

export function clock(start = Date.UTC(2025, 0, 1, 12)) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A failure of the peer itself (timeout, connection refused): counts towards opening. */
export const peerDown = () => Object.assign(new Error('connection refused'), { peerFailure: true });
/** An answer the peer gave (a decline): does not count. */
export const declined = () => Object.assign(new Error('card declined'), { peerFailure: false });
