// Waiting primitives. Every wait here is bounded by a timeout or an abort signal and clears its timer when it ends, so
// a stopped client leaves no timer behind (in Node, a pending timer keeps the process alive).

/** A promise with its resolve function at hand. Never rejects: waiters are woken, not failed. */
export class Deferred<T> {
  readonly promise: Promise<T>;
  private resolveFn!: (value: T) => void;
  private done = false;

  constructor() {
    this.promise = new Promise<T>((resolve) => {
      this.resolveFn = resolve;
    });
  }

  get settled(): boolean {
    return this.done;
  }

  resolve(value: T): void {
    this.done = true;
    this.resolveFn(value);
  }
}

/** How a bounded wait ended. */
export type WaitOutcome<T> = { readonly kind: 'value'; readonly value: T } | { readonly kind: 'timeout' } | { readonly kind: 'aborted' };

/** Waits for `promise` for at most `ms` milliseconds, or until `signal` aborts. A rejection of `promise` propagates. */
export function within<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<WaitOutcome<T>> {
  if (signal?.aborted) {
    return Promise.resolve({ kind: 'aborted' });
  }

  return new Promise<WaitOutcome<T>>((resolve, reject) => {
    const finish = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      finish();
      resolve({ kind: 'aborted' });
    };
    const timer = setTimeout(() => {
      finish();
      resolve({ kind: 'timeout' });
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        finish();
        resolve({ kind: 'value', value });
      },
      (error: unknown) => {
        finish();
        reject(error);
      },
    );
  });
}

const never = new Promise<never>(() => {});

/** Waits `ms` milliseconds; false when `signal` aborted first. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return (await within(never, ms, signal)).kind === 'timeout';
}

/** `ms` scaled by a random factor in [0.5, 1.5), so that many clients waiting at once spread out. */
export function jitter(ms: number): number {
  return ms * (0.5 + Math.random());
}

/**
 * The wait before retry number `attempt` (0 for the first retry): `minMs` doubled per attempt, jittered, at most `maxMs`.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number): number {
  const exponential = minMs * 2 ** Math.min(attempt, 30);
  return Math.min(maxMs, jitter(Math.min(exponential, maxMs)));
}
