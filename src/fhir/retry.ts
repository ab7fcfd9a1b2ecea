import { getStatus, isOperationOutcome, OperationOutcomeError } from '@medplum/core';
import { setTimeout as sleep } from 'node:timers/promises';

/** Bounds of the in-bot retry of conflicting writes (docs/design.md, "Ordering, duplicates, concurrency"): ≤ 5 s in all. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxTotalDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 20, maxTotalDelayMs: 5_000 };

/** HTTP status of a failed Medplum call, when it has one. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof OperationOutcomeError) {
    return getStatus(err.outcome);
  }
  const outcome = (err as { outcome?: unknown } | undefined)?.outcome;
  return isOperationOutcome(outcome) ? getStatus(outcome) : undefined;
}

/** 409 (serialization failure, concurrent create) and 412 (version moved under If-Match). */
export function isConflict(err: unknown): boolean {
  const status = statusOf(err);
  return status === 409 || status === 412;
}

/**
 * Runs `attempt` until it succeeds or fails with something other than a conflict, re-running it
 * (it must re-read what it depends on) with jittered exponential backoff.
 */
export async function retryOnConflict<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY
): Promise<T> {
  let slept = 0;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const delay = Math.round(policy.baseDelayMs * 2 ** (n - 1) * (0.5 + Math.random()));
      if (!isConflict(err) || n >= policy.maxAttempts || slept + delay > policy.maxTotalDelayMs) {
        throw err;
      }
      slept += delay;
      await sleep(delay);
    }
  }
}
