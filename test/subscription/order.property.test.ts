import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import { readAppliedEvent } from '../../src/fhir/order';
import type { StripeEvent } from '../../src/stripe/types';
import { subscriptionStage, subscriptionStateOfStage } from '../../src/machines/subscription';
import { SUBSCRIPTION_LIFECYCLES } from '../../lib/stripe-events/subscription';
import { createTestProject } from '../harness/project';
import { deliverAll } from '../subscription-schedule/helpers';
import {
  chronologicalSubscription,
  itemsOf,
  onlyLiveAccount,
  subscriptionAccounts,
  comparableAccount,
} from './helpers';
import { chronological, FINAL, LIFECYCLES, scenarioEvents, type Scenario } from './scenario';

const scenarioArb: fc.Arbitrary<Scenario & { duplicates: number[]; order: number[] }> = fc
  .constantFrom(...LIFECYCLES)
  .chain((lifecycle) => {
    const steps = SUBSCRIPTION_LIFECYCLES[lifecycle].length;
    return fc.record({
      lifecycle: fc.constant(lifecycle),
      withSchedule: fc.boolean(),
      withPatient: fc.boolean(),
      gaps: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: steps - 1, maxLength: steps - 1 }),
      releaseAfter: fc.integer({ min: 0, max: 5 }),
      ids: fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9]{12}$/), { minLength: steps, maxLength: steps }),
      shape: fc.constantFrom('openapi' as const, 'openapi-2025-02-24.acacia' as const),
      duplicates: fc.array(fc.nat({ max: steps + 2 }), { maxLength: 4 }),
      order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: steps + 7, maxLength: steps + 7 }),
    });
  });

describe('subscription ordering and duplicates, mixed with the schedule of the same subscription', () => {
  it('any permutation and duplication gives the Account of chronological delivery', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const events = scenarioEvents(scenario, 'Property');
        const all: StripeEvent[] = [...events.subscription, ...events.schedule];
        const deliveries = [...all, ...scenario.duplicates.map((i) => all[i % all.length] as StripeEvent)];
        const shuffled = deliveries
          .map((event, i) => ({ event, rank: scenario.order[i] ?? 0 }))
          .sort((a, b) => a.rank - b.rank)
          .map((d) => d.event);

        const sequential = await createTestProject();
        await deliverAll(sequential, chronological(events));
        const expected = await onlyLiveAccount(sequential);
        // Chronological delivery never needs a merge.
        expect(await subscriptionAccounts(sequential)).toHaveLength(1);

        const project = await createTestProject();
        await deliverAll(project, shuffled);
        const actual = await onlyLiveAccount(project);
        expect(comparableAccount(project, actual)).toEqual(comparableAccount(sequential, expected));
        expect(project.server.repo.rejected).toEqual([]);

        // And the chronological result is the state of the last event by the key; when the events
        // are in distinct seconds, the lifecycle's end as written by hand.
        const final = FINAL[scenario.lifecycle];
        const last = chronologicalSubscription(events.subscription).at(-1);
        const lastStage = subscriptionStage(last?.type ?? '', last?.data.object.status) as string;
        const state = actual.extension?.find((e) => e.url === EXTENSION.subscriptionMachineState)?.valueCode;
        expect(state).toBe(subscriptionStateOfStage(lastStage));
        if (scenario.gaps.every((gap) => gap > 0)) {
          expect(actual.status).toBe(final.status);
          expect(state).toBe(final.state);
          expect(itemsOf(actual)).toEqual(final.items);
        }
        expect(readAppliedEvent(actual, EXTENSION.subscriptionLastAppliedEvent)?.id).toBe(last?.id);
        expect(actual.identifier?.map((i) => i.system)).toEqual(
          scenario.withSchedule
            ? [STRIPE_SYSTEM.subscription, STRIPE_SYSTEM.subscriptionSchedule]
            : [STRIPE_SYSTEM.subscription]
        );
        expect(actual.subject ? 'linked' : 'none').toBe(scenario.withPatient ? 'linked' : 'none');
      }),
      { numRuns: 40 }
    );
  });
});
