import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import { readAppliedEvent } from '../../src/fhir/order';
import { createTestProject } from '../harness/project';
import {
  SCHEDULE_LIFECYCLES,
  scheduleLifecycleEvents,
  type ScheduleLifecycle,
  type ScheduleVariant,
} from '../../lib/stripe-events/events';
import {
  chronologicalSchedule,
  comparableAccount,
  deliverAll,
  extensionValue,
  onlyAccount,
  type ScheduleEvent,
} from './helpers';

/** Where each lifecycle ends, written by hand (independently of the machine). */
const FINAL: Record<ScheduleLifecycle, { state: string; status: string; subscriptions: number }> = {
  completed: { state: 'completed', status: 'inactive', subscriptions: 1 },
  released: { state: 'released', status: 'inactive', subscriptions: 1 },
  canceled: { state: 'canceled', status: 'inactive', subscriptions: 1 },
  'canceled-before-start': { state: 'canceled', status: 'inactive', subscriptions: 0 },
  aborted: { state: 'aborted', status: 'inactive', subscriptions: 1 },
};

const lifecycleArb = fc.constantFrom(...(Object.keys(SCHEDULE_LIFECYCLES) as ScheduleLifecycle[]));

/**
 * A lifecycle with gaps of 0–2 s (0 = same second), random event ids, a customer with or without
 * Patient, and a delivery: any order, some events more than once.
 */
const scenarioArb = lifecycleArb.chain((lifecycle) => {
  const steps = SCHEDULE_LIFECYCLES[lifecycle].length;
  return fc.record({
    lifecycle: fc.constant(lifecycle),
    withPatient: fc.boolean(),
    gaps: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: steps - 1, maxLength: steps - 1 }),
    ids: fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9]{14}$/), { minLength: steps, maxLength: steps }),
    duplicates: fc.array(fc.nat({ max: steps - 1 }), { maxLength: 4 }),
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: steps + 4, maxLength: steps + 4 }),
  });
});

describe('subscription schedule ordering and duplicates (design: ordering, duplicates, concurrency)', () => {
  it('any permutation and duplication gives the Account of chronological delivery', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ lifecycle, withPatient, gaps, ids, duplicates, order }) => {
        const variant: ScheduleVariant = {
          id: 'sub_sched_1Property',
          ...(!withPatient && { customer: 'cus_1NoPatient' }),
        };
        const events = scheduleLifecycleEvents(variant, lifecycle, { gaps, ids: ids.map((id) => `evt_${id}`) });
        const deliveries = [...events, ...duplicates.map((i) => events[i] as ScheduleEvent)];
        const shuffled = deliveries
          .map((event, i) => ({ event, rank: order[i] ?? 0 }))
          .sort((a, b) => a.rank - b.rank)
          .map((d) => d.event);

        const sequential = await createTestProject();
        await deliverAll(sequential, chronologicalSchedule(events));
        const expected = await onlyAccount(sequential);

        const project = await createTestProject();
        await deliverAll(project, shuffled);
        const actual = await onlyAccount(project);
        expect(comparableAccount(project, actual)).toEqual(comparableAccount(sequential, expected));

        // And the chronological result is the lifecycle's end, as written by hand above.
        const final = FINAL[lifecycle];
        expect(actual.status).toBe(final.status);
        expect(extensionValue(actual, EXTENSION.machineState)).toBe(final.state);
        expect(readAppliedEvent(actual)?.id).toBe(events[events.length - 1]?.id);
        expect(actual.identifier?.filter((i) => i.system === STRIPE_SYSTEM.subscription)).toHaveLength(
          final.subscriptions
        );
        expect(actual.subject ? 'linked' : 'none').toBe(withPatient ? 'linked' : 'none');
      }),
      { numRuns: 40 }
    );
  });

  it('expiring changes no status but moves the marker forward', async () => {
    const [created, , started, expiring] = scheduleLifecycleEvents({ id: 'sub_sched_1Expiring' }, 'completed', {
      gaps: [1, 1, 60],
    }) as ScheduleEvent[];
    const project = await createTestProject();
    await deliverAll(project, [created, started]);
    const before = await onlyAccount(project);
    await deliverAll(project, [expiring]);
    const after = await onlyAccount(project);
    expect(after.status).toBe('active');
    expect(after.status).toBe(before.status);
    expect(readAppliedEvent(after)).toEqual({ id: expiring?.id, created: expiring?.created, stage: 'active' });
    // An older expiring-like event does not move it back.
    const older = { ...(expiring as ScheduleEvent), id: 'evt_1OlderExpiring', created: (started?.created ?? 0) - 5 };
    const { result } = await project.deliver(older);
    expect(result.reason).toMatch(/already shows this or a later event/);
    expect(readAppliedEvent(await onlyAccount(project))?.id).toBe(expiring?.id);
  });

  it('a late updated (status active) after canceled leaves the Account inactive', async () => {
    const [created, started, canceled] = scheduleLifecycleEvents({ id: 'sub_sched_1LateActive' }, 'canceled');
    const project = await createTestProject();
    await deliverAll(project, [created, canceled]);
    // Delivered after the cancellation, though it happened before it; then one claiming a later time.
    const lateUpdate = { ...(started as ScheduleEvent), created: (canceled?.created ?? 0) + 60, id: 'evt_1LateUpd' };
    for (const event of [started, lateUpdate]) {
      const { status, result } = await project.deliver(event);
      expect(status).toBe(200);
      expect(result.reason).toMatch(/already shows this or a later event/);
    }
    const account = await onlyAccount(project);
    expect(account.status).toBe('inactive');
    expect(extensionValue(account, EXTENSION.machineState)).toBe('canceled');
    expect(readAppliedEvent(account)?.id).toBe(canceled?.id);
  });

  it('a late created after active does not put the Account back on hold', async () => {
    const [created, , started] = scheduleLifecycleEvents({ id: 'sub_sched_1LateCreated' }, 'completed');
    const project = await createTestProject();
    await deliverAll(project, [started, created]);
    expect((await onlyAccount(project)).status).toBe('active');
    // Even a `created` whose event time is later (a stale snapshot sent late) finds no way back.
    const laterCreated = {
      ...(created as ScheduleEvent),
      id: 'evt_1LaterCreated',
      created: (started?.created ?? 0) + 30,
    };
    await deliverAll(project, [laterCreated]);
    const account = await onlyAccount(project);
    expect(account.status).toBe('active');
    expect(readAppliedEvent(account)?.id).toBe(started?.id);
  });
});

describe('two terminal events of one schedule', () => {
  // Stripe's `aborted` event says status `canceled`; a status-canceled `updated` can come with it.
  // Whatever their arrival order and event ids, the Account ends the same.
  it.each([
    ['evt_1A', 'evt_1Z'],
    ['evt_1Z', 'evt_1A'],
  ])(
    'aborted (%s) and updated/canceled (%s) in the same second end aborted in either order',
    async (abortedId, updatedId) => {
      const events = scheduleLifecycleEvents({ id: 'sub_sched_1TwoEnds' }, 'aborted');
      const aborted = { ...(events.at(-1) as ScheduleEvent), id: abortedId };
      const updated: ScheduleEvent = { ...aborted, id: updatedId, type: 'subscription_schedule.updated' };
      const before = events.slice(0, -1);

      const results = [];
      for (const ending of [
        [aborted, updated],
        [updated, aborted],
      ]) {
        const project = await createTestProject();
        await deliverAll(project, [...before, ...ending]);
        const account = await onlyAccount(project);
        expect(extensionValue(account, EXTENSION.machineState)).toBe('aborted');
        expect(readAppliedEvent(account)?.id).toBe(abortedId);
        results.push(comparableAccount(project, account));
      }
      expect(results[1]).toEqual(results[0]);
    }
  );
});
