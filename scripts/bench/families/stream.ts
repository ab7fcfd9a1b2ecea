import type { StripeEvent } from '../../../src/stripe/types';
import { prng } from '../../../lib/prng';

/**
 * Delivery-order helpers shared by the families' streams. Stripe delivers at least once and in
 * no guaranteed order: events of one object arrive close together, sometimes swapped, sometimes twice.
 */

/** Merges the objects' lifecycles into one stream in time order (stable for equal times). */
export function interleave(lifecycles: readonly (readonly StripeEvent[])[]): StripeEvent[] {
  const all = lifecycles.flatMap((events, object) => events.map((event, step) => ({ event, object, step })));
  all.sort((a, b) => a.event.created - b.event.created || a.object - b.object || a.step - b.step);
  return all.map((e) => e.event);
}

/** Shuffles the stream inside consecutive windows of `window` events (out-of-order delivery). */
export function shuffleWithinWindows<T>(items: readonly T[], window: number, rand: () => number): T[] {
  const result = [...items];
  for (let start = 0; start < result.length; start += window) {
    const end = Math.min(start + window, result.length);
    for (let i = end - 1; i > start; i--) {
      const j = start + Math.floor(rand() * (i - start + 1));
      [result[i], result[j]] = [result[j] as T, result[i] as T];
    }
  }
  return result;
}

/** Delivers about `rate` of the events a second time, 1 to `maxDistance` deliveries later. */
export function withDuplicates<T>(items: readonly T[], rate: number, maxDistance: number, rand: () => number): T[] {
  const result = [...items];
  for (let i = items.length - 1; i >= 0; i--) {
    if (rand() < rate) {
      const at = Math.min(result.length, i + 1 + Math.floor(rand() * maxDistance));
      result.splice(at, 0, items[i] as T);
    }
  }
  return result;
}

export function pickWeighted<T extends string>(weights: Readonly<Record<T, number>>, rand: () => number): T {
  const entries = Object.entries(weights) as [T, number][];
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let r = rand() * total;
  for (const [key, weight] of entries) {
    r -= weight;
    if (r < 0) {
      return key;
    }
  }
  return (entries[entries.length - 1] as [T, number])[0];
}

/** What one object of a family contributes to a stream, given its index, the random source and its start time. */
export type ObjectEvents = (k: number, rand: () => number, start: number) => readonly (readonly StripeEvent[])[];

/**
 * A family's delivery stream: objects start every 1–3 s (so lifecycles overlap and same-second
 * events are common) until their events number `n`; then the stream is put in time order,
 * shuffled within windows of 6, and 2% of it is delivered a second time up to 20 deliveries later.
 */
export function deliveryStream(n: number, seed: number, objectEvents: ObjectEvents): StripeEvent[] {
  const rand = prng(seed);
  const lifecycles: (readonly StripeEvent[])[] = [];
  let total = 0;
  let start = 1_760_000_000;
  for (let k = 0; total < n; k++) {
    for (const events of objectEvents(k, rand, start)) {
      lifecycles.push(events);
      total += events.length;
    }
    start += 1 + Math.floor(rand() * 3);
  }
  const ordered = shuffleWithinWindows(interleave(lifecycles), 6, rand);
  return withDuplicates(ordered, 0.02, 20, rand).slice(0, n);
}
