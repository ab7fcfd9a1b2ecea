import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderSubscriptionMachineDoc, SUBSCRIPTION_DOC_PATH } from '../../scripts/render-machine-doc';
import { compareEvents, type AppliedEvent } from '../../src/event-order';
import {
  FINAL_SUBSCRIPTION_STATES,
  SUBSCRIPTION_STAGES,
  SUBSCRIPTION_STATES,
  applySubscriptionEvent,
  renderSubscriptionMermaid,
  subscriptionAccountStatus,
  subscriptionLifecycle,
  subscriptionStage,
  subscriptionStateOfStage,
  subscriptionTransitionTable,
  type SubscriptionSnapshot,
  type SubscriptionStage,
  type SubscriptionState,
} from '../../src/machines/subscription';

const T = 1_700_000_000;

const STAGE_OF_STATE: Record<SubscriptionState, SubscriptionStage> = {
  incomplete: 'incomplete',
  trialing: 'trialing',
  active: 'active',
  pastDue: 'past_due',
  unpaid: 'unpaid',
  paused: 'paused',
  canceled: 'canceled',
  incompleteExpired: 'incomplete_expired',
};

function at(state: SubscriptionState, created = T, id = 'evt_previous'): SubscriptionSnapshot {
  return { state, applied: { id, created, stage: STAGE_OF_STATE[state] } };
}

/** From a non-final state, a newer event of any status leads to that status's state. */
function open(): Record<SubscriptionStage, SubscriptionState | 'dropped'> {
  return {
    incomplete: 'incomplete',
    trialing: 'trialing',
    active: 'active',
    past_due: 'pastDue',
    unpaid: 'unpaid',
    paused: 'paused',
    canceled: 'canceled',
    incomplete_expired: 'incompleteExpired',
  };
}

/** A final state is never left for a non-final one; a newer terminal event moves it. */
function final(): Record<SubscriptionStage, SubscriptionState | 'dropped'> {
  return {
    incomplete: 'dropped',
    trialing: 'dropped',
    active: 'dropped',
    past_due: 'dropped',
    unpaid: 'dropped',
    paused: 'dropped',
    canceled: 'canceled',
    incomplete_expired: 'incompleteExpired',
  };
}

/** Written by hand, independently of the machine. */
const EXPECTED: Record<SubscriptionState, Record<SubscriptionStage, SubscriptionState | 'dropped'>> = {
  incomplete: open(),
  trialing: open(),
  active: open(),
  pastDue: open(),
  unpaid: open(),
  paused: open(),
  canceled: final(),
  incompleteExpired: final(),
};

const EDGES = SUBSCRIPTION_STATES.flatMap((from) =>
  SUBSCRIPTION_STAGES.map((stage) => ({ from, stage, to: EXPECTED[from][stage] }))
);

describe('subscriptionStage: the object’s own status decides', () => {
  it.each([
    ['customer.subscription.created', 'incomplete', 'incomplete'],
    ['customer.subscription.created', 'trialing', 'trialing'],
    ['customer.subscription.created', 'active', 'active'],
    ['customer.subscription.updated', 'past_due', 'past_due'],
    ['customer.subscription.updated', 'unpaid', 'unpaid'],
    ['customer.subscription.updated', 'incomplete_expired', 'incomplete_expired'],
    ['customer.subscription.updated', 'canceled', 'canceled'],
    ['customer.subscription.paused', 'paused', 'paused'],
    ['customer.subscription.resumed', 'active', 'active'],
    ['customer.subscription.trial_will_end', 'trialing', 'trialing'],
    ['customer.subscription.pending_update_applied', 'active', 'active'],
    ['customer.subscription.pending_update_expired', 'past_due', 'past_due'],
    ['customer.subscription.deleted', 'canceled', 'canceled'],
    ['customer.subscription.deleted', 'incomplete_expired', 'incomplete_expired'],
    // `deleted` ends the subscription whatever non-final status it carries.
    ['customer.subscription.deleted', 'active', 'canceled'],
    ['customer.subscription.updated', 'ended', undefined],
    ['customer.subscription.updated', '', undefined],
    ['customer.subscription.updated', null, undefined],
  ])('%s with status %j → %j', (type, status, stage) => {
    expect(subscriptionStage(type, status)).toBe(stage);
  });
});

describe('subscriptionLifecycle: same-second rank and terminal stages', () => {
  it.each([
    ['incomplete', 0, false],
    ['trialing', 1, false],
    ['active', 2, false],
    ['past_due', 3, false],
    ['unpaid', 4, false],
    ['paused', 4, false],
    ['canceled', 5, true],
    ['incomplete_expired', 5, true],
    ['unknown', -1, false],
  ] as const)('%s has rank %i, terminal %s', (stage, rank, terminal) => {
    expect(subscriptionLifecycle.rank(stage)).toBe(rank);
    expect(subscriptionLifecycle.isTerminal(stage)).toBe(terminal);
  });
});

describe('subscriptionStateOfStage and Account.status', () => {
  it.each(SUBSCRIPTION_STAGES.map((stage) => [stage] as const))('%s', (stage) => {
    expect(STAGE_OF_STATE[subscriptionStateOfStage(stage)]).toBe(stage);
  });

  it('throws on an unknown stage', () => {
    expect(() => subscriptionStateOfStage('ended')).toThrow(/ended/);
  });

  it('final states are canceled and incompleteExpired', () => {
    expect([...FINAL_SUBSCRIPTION_STATES].sort()).toEqual(['canceled', 'incompleteExpired']);
  });

  it.each([
    ['trialing', 'active'],
    ['active', 'active'],
    ['pastDue', 'active'],
    ['incomplete', 'on-hold'],
    ['paused', 'on-hold'],
    ['unpaid', 'on-hold'],
    ['canceled', 'inactive'],
    ['incompleteExpired', 'inactive'],
  ] as const)('%s → %s', (state, status) => {
    expect(subscriptionAccountStatus(state)).toBe(status);
  });
});

describe('every (state × stage) edge with a newer event', () => {
  it.each(EDGES)('$from + $stage → $to', ({ from, stage, to }) => {
    const previous = at(from);
    const event: AppliedEvent = { id: 'evt_next', created: T + 1, stage };
    const { snapshot, changed } = applySubscriptionEvent(previous, event);
    if (to === 'dropped') {
      expect(changed).toBe(false);
      expect(snapshot).toEqual(previous);
    } else {
      expect(changed).toBe(true);
      expect(snapshot).toEqual({ state: to, applied: event });
    }
  });

  it('subscriptionTransitionTable runs the machine to the same table', () => {
    expect(subscriptionTransitionTable()).toEqual(EDGES);
  });
});

describe('every (state × stage) edge with an older event is refused (stale)', () => {
  it.each(EDGES)('$from + older $stage', ({ from, stage }) => {
    const previous = at(from);
    const { snapshot, changed } = applySubscriptionEvent(previous, { id: 'evt_next', created: T - 1, stage });
    // A terminal stage outranks every non-terminal one whatever its `created` (the key's first part).
    const expected = subscriptionLifecycle.isTerminal(stage) && !subscriptionLifecycle.isTerminal(STAGE_OF_STATE[from]);
    expect(changed).toBe(expected);
    expect(snapshot.state).toBe(expected ? subscriptionStateOfStage(stage) : from);
  });
});

describe('every (state × stage) edge within the same second: the later rank wins', () => {
  it.each(EDGES)('$from + same-second $stage', ({ from, stage }) => {
    const previous = at(from, T, 'evt_m');
    const fromStage = STAGE_OF_STATE[from];
    const rankOf = (s: string) => [subscriptionLifecycle.isTerminal(s), subscriptionLifecycle.rank(s)] as const;
    const [fromTerminal, fromRank] = rankOf(fromStage);
    const [toTerminal, toRank] = rankOf(stage);
    for (const id of ['evt_a', 'evt_z']) {
      const { changed } = applySubscriptionEvent(previous, { id, created: T, stage });
      const later = Number(toTerminal) - Number(fromTerminal) || toRank - fromRank || (id > 'evt_m' ? 1 : -1);
      expect(changed, `${id}`).toBe(later > 0 && EXPECTED[from][stage] !== 'dropped');
    }
  });
});

describe('no subscription event applied yet', () => {
  it.each(SUBSCRIPTION_STAGES.map((stage) => [stage] as const))('the first event (%s) is accepted', (stage) => {
    const event: AppliedEvent = { id: 'evt_first', created: T, stage };
    expect(applySubscriptionEvent(undefined, event)).toEqual({
      snapshot: { state: subscriptionStateOfStage(stage), applied: event },
      changed: true,
    });
  });

  it('an event with an unknown stage is refused', () => {
    expect(applySubscriptionEvent(undefined, { id: 'evt_1', created: T, stage: 'ended' })).toEqual({
      snapshot: { state: 'incomplete' },
      changed: false,
    });
  });
});

describe('named cases', () => {
  it('trial_will_end (status trialing) changes no state but is recorded', () => {
    const previous = at('trialing', T);
    const willEnd: AppliedEvent = {
      id: 'evt_will_end',
      created: T + 60,
      stage: subscriptionStage('customer.subscription.trial_will_end', 'trialing') as string,
    };
    expect(applySubscriptionEvent(previous, willEnd)).toEqual({
      snapshot: { state: 'trialing', applied: willEnd },
      changed: true,
    });
  });

  it('a late updated (status active) after deleted stays canceled', () => {
    const previous = at('canceled', T + 10);
    const late: AppliedEvent = { id: 'evt_late', created: T + 5, stage: 'active' };
    expect(applySubscriptionEvent(previous, late)).toEqual({ snapshot: previous, changed: false });
    expect(applySubscriptionEvent(previous, { ...late, created: T + 20 })).toEqual({
      snapshot: previous,
      changed: false,
    });
  });

  it('moves Stripe rarely makes are taken when newer: active back to incomplete', () => {
    const event: AppliedEvent = { id: 'evt_back', created: T + 1, stage: 'incomplete' };
    expect(applySubscriptionEvent(at('active'), event)).toEqual({
      snapshot: { state: 'incomplete', applied: event },
      changed: true,
    });
  });

  it('a duplicate is not applied twice', () => {
    const event: AppliedEvent = { id: 'evt_1', created: T, stage: 'past_due' };
    const first = applySubscriptionEvent(at('active', T - 5), event);
    expect(first.changed).toBe(true);
    expect(applySubscriptionEvent(first.snapshot, { ...event })).toEqual({ snapshot: first.snapshot, changed: false });
  });

  it('paused and unpaid share a rank: within one second the larger event id wins', () => {
    const paused: AppliedEvent = { id: 'evt_b', created: T, stage: 'paused' };
    const unpaid: AppliedEvent = { id: 'evt_a', created: T, stage: 'unpaid' };
    const fold = (events: AppliedEvent[]) =>
      events.reduce<SubscriptionSnapshot>((s, e) => applySubscriptionEvent(s, e).snapshot, at('active', T - 1));
    expect(fold([paused, unpaid])).toEqual({ state: 'paused', applied: paused });
    expect(fold([unpaid, paused])).toEqual({ state: 'paused', applied: paused });
  });
});

describe('order independence (property)', () => {
  const lifecycles: SubscriptionStage[][] = [
    ['incomplete', 'active', 'past_due', 'active', 'canceled'],
    ['trialing', 'trialing', 'active'],
    ['active', 'paused', 'active'],
    ['incomplete', 'incomplete_expired'],
    ['active', 'past_due', 'unpaid', 'canceled'],
  ];
  const eventsArb = fc.constantFrom(...lifecycles).chain((stages) =>
    fc
      .tuple(
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: stages.length, maxLength: stages.length }),
        fc.uniqueArray(fc.stringMatching(/^[0-9A-Za-z]{1,10}$/), { minLength: stages.length, maxLength: stages.length })
      )
      .map(([gaps, ids]) => {
        let time = T;
        return stages.map((stage, i) => {
          time += gaps[i] ?? 0;
          return { id: `evt_${ids[i] ?? i}`, created: time, stage };
        });
      })
  );
  const deliveriesArb = eventsArb.chain((events) =>
    fc
      .tuple(
        fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
        fc.array(fc.nat({ max: events.length - 1 }), { maxLength: 4 })
      )
      .map(([shuffled, duplicates]) => ({
        events,
        deliveries: [...shuffled, ...duplicates.map((i) => ({ ...(events[i] as AppliedEvent) }))],
      }))
  );
  const fold = (events: readonly AppliedEvent[]) =>
    events.reduce<SubscriptionSnapshot | undefined>((s, e) => applySubscriptionEvent(s, e).snapshot, undefined);

  it('folding any arrival order, with duplicates, gives the snapshot of the key order', () => {
    fc.assert(
      fc.property(deliveriesArb, ({ events, deliveries }) => {
        const sorted = [...events].sort((a, b) => compareEvents(a, b, subscriptionLifecycle));
        const last = sorted.at(-1) as AppliedEvent;
        expect(fold(sorted)).toEqual({ state: subscriptionStateOfStage(last.stage), applied: last });
        expect(fold(deliveries)).toEqual(fold(sorted));
      }),
      { numRuns: 300 }
    );
  });
});

describe('generated doc', () => {
  it('the Mermaid diagram starts in incomplete, ends in the final states, and never leaves them for an open one', () => {
    const mermaid = renderSubscriptionMermaid();
    expect(mermaid.split('\n')[0]).toBe('stateDiagram-v2');
    expect(mermaid).toContain('[*] --> incomplete');
    for (const state of FINAL_SUBSCRIPTION_STATES) {
      expect(mermaid).toContain(`${state} --> [*]`);
    }
    expect(mermaid).not.toContain('canceled --> active');
  });

  it('docs/subscription-machine.md matches the generator (run: npx tsx scripts/render-machine-doc.ts)', () => {
    const committed = readFileSync(SUBSCRIPTION_DOC_PATH, 'utf8');
    expect(committed).toBe(renderSubscriptionMachineDoc(committed));
  });
});
