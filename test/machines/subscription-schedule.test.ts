import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderMachineDoc, DOC_PATH } from '../../scripts/render-machine-doc';
import type { AppliedEvent } from '../../src/fhir/order';
import { compareEvents } from '../../src/fhir/order';
import {
  FINAL_STATES,
  SCHEDULE_STAGES,
  SCHEDULE_STATES,
  accountStatus,
  applyScheduleEvent,
  renderScheduleMermaid,
  scheduleLifecycle,
  scheduleStage,
  scheduleTransitionTable,
  stateOfStage,
} from '../../src/machines/subscription-schedule';
import type { ScheduleSnapshot, ScheduleStage, ScheduleState } from '../../src/machines/subscription-schedule';

const T = 1_700_000_000;

const STAGE_OF_STATE: Record<ScheduleState, ScheduleStage> = {
  notStarted: 'not_started',
  active: 'active',
  completed: 'completed',
  released: 'released',
  canceled: 'canceled',
  aborted: 'aborted',
};

function at(state: ScheduleState, created = T, id = 'evt_previous'): ScheduleSnapshot {
  return { state, applied: { id, created, stage: STAGE_OF_STATE[state] } };
}

function stageOf(eventType: string, status: string): ScheduleStage {
  const stage = scheduleStage(eventType, status);
  if (stage === undefined) {
    throw new Error(`no stage for ${eventType} / ${status}`);
  }
  return stage;
}

/** Written by hand, independently of the machine: where a newer event of each stage leads. */
const EXPECTED: Record<ScheduleState, Record<ScheduleStage, ScheduleState | 'dropped'>> = {
  notStarted: {
    not_started: 'notStarted',
    active: 'active',
    completed: 'completed',
    released: 'released',
    canceled: 'canceled',
    aborted: 'aborted',
  },
  active: {
    not_started: 'dropped',
    active: 'active',
    completed: 'completed',
    released: 'released',
    canceled: 'canceled',
    aborted: 'aborted',
  },
  completed: onlyTerminal(),
  released: onlyTerminal(),
  canceled: onlyTerminal(),
  aborted: onlyTerminal(),
};

/** A final state is never left for notStarted or active; a newer terminal event moves it. */
function onlyTerminal(): Record<ScheduleStage, ScheduleState | 'dropped'> {
  return {
    not_started: 'dropped',
    active: 'dropped',
    completed: 'completed',
    released: 'released',
    canceled: 'canceled',
    aborted: 'aborted',
  };
}

const EDGES = SCHEDULE_STATES.flatMap((from) =>
  SCHEDULE_STAGES.map((stage) => ({ from, stage, to: EXPECTED[from][stage] }))
);

describe('scheduleStage', () => {
  it.each([
    ['subscription_schedule.created', 'not_started', 'not_started'],
    ['subscription_schedule.created', 'active', 'active'],
    ['subscription_schedule.updated', 'not_started', 'not_started'],
    ['subscription_schedule.updated', 'active', 'active'],
    ['subscription_schedule.expiring', 'active', 'active'],
    ['subscription_schedule.expiring', 'not_started', 'not_started'],
    ['subscription_schedule.completed', 'completed', 'completed'],
    ['subscription_schedule.released', 'released', 'released'],
    ['subscription_schedule.canceled', 'canceled', 'canceled'],
    ['subscription_schedule.aborted', 'canceled', 'aborted'],
    // The status decides, not the event type.
    ['subscription_schedule.updated', 'canceled', 'canceled'],
    ['subscription_schedule.updated', 'paused', undefined],
    ['subscription_schedule.created', '', undefined],
    ['subscription_schedule.aborted', 'weird', undefined],
  ])('%s with status %j → %j', (type, status, stage) => {
    expect(scheduleStage(type, status)).toBe(stage);
  });
});

describe('scheduleLifecycle', () => {
  it.each([
    ['not_started', 0, false],
    ['active', 1, false],
    ['completed', 2, true],
    ['released', 2, true],
    ['canceled', 2, true],
    ['aborted', 3, true],
    ['unknown', -1, false],
  ] as const)('%s has rank %i, terminal %s', (stage, rank, terminal) => {
    expect(scheduleLifecycle.rank(stage)).toBe(rank);
    expect(scheduleLifecycle.isTerminal(stage)).toBe(terminal);
  });
});

describe('stateOfStage', () => {
  it.each(SCHEDULE_STAGES.map((stage) => [stage] as const))('%s', (stage) => {
    expect(STAGE_OF_STATE[stateOfStage(stage)]).toBe(stage);
  });

  it('throws on an unknown stage', () => {
    expect(() => stateOfStage('paused')).toThrow(/paused/);
  });

  it('final states are the four terminal stages', () => {
    expect([...FINAL_STATES].sort()).toEqual(['aborted', 'canceled', 'completed', 'released']);
  });
});

describe('every (state × stage) edge with a newer event', () => {
  it.each(EDGES)('$from + $stage → $to', ({ from, stage, to }) => {
    const previous = at(from);
    const event: AppliedEvent = { id: 'evt_next', created: T + 1, stage };
    const { snapshot, changed } = applyScheduleEvent(previous, event);
    if (to === 'dropped') {
      expect(changed).toBe(false);
      expect(snapshot).toEqual(previous);
    } else {
      expect(changed).toBe(true);
      expect(snapshot).toEqual({ state: to, applied: event });
    }
  });

  it('scheduleTransitionTable runs the machine to the same table', () => {
    expect(scheduleTransitionTable()).toEqual(EDGES);
  });
});

describe('every (state × stage) edge with an older event is dropped', () => {
  it.each(EDGES)('$from + older $stage', ({ from, stage }) => {
    const previous = at(from);
    const { snapshot, changed } = applyScheduleEvent(previous, { id: 'evt_next', created: T - 1, stage });
    // A terminal stage outranks every non-terminal one whatever its `created` (the key's first part).
    const expected = scheduleLifecycle.isTerminal(stage) && !scheduleLifecycle.isTerminal(STAGE_OF_STATE[from]);
    expect(changed).toBe(expected);
    expect(snapshot.state).toBe(expected ? stateOfStage(stage) : from);
  });
});

describe('no Account yet', () => {
  it.each(SCHEDULE_STAGES.map((stage) => [stage] as const))('the first event (%s) is accepted', (stage) => {
    const event: AppliedEvent = { id: 'evt_first', created: T, stage };
    expect(applyScheduleEvent(undefined, event)).toEqual({
      snapshot: { state: stateOfStage(stage), applied: event },
      changed: true,
    });
  });

  it('a snapshot in notStarted with no applied event accepts anything', () => {
    const event: AppliedEvent = { id: 'evt_1', created: T, stage: 'not_started' };
    expect(applyScheduleEvent({ state: 'notStarted' }, event)).toEqual({
      snapshot: { state: 'notStarted', applied: event },
      changed: true,
    });
  });

  it('an event with an unknown stage is dropped', () => {
    expect(applyScheduleEvent(undefined, { id: 'evt_1', created: T, stage: 'paused' })).toEqual({
      snapshot: { state: 'notStarted' },
      changed: false,
    });
  });
});

describe('named cases', () => {
  it('a late updated (status active) after canceled stays canceled', () => {
    const previous = at('canceled', T + 10);
    const late: AppliedEvent = {
      id: 'evt_late',
      created: T + 5,
      stage: stageOf('subscription_schedule.updated', 'active'),
    };
    expect(applyScheduleEvent(previous, late)).toEqual({ snapshot: previous, changed: false });
    // Even one that looks newer: a final state absorbs every non-terminal event.
    const newer = { ...late, created: T + 20 };
    expect(applyScheduleEvent(previous, newer)).toEqual({ snapshot: previous, changed: false });
  });

  it('two terminal events end in the state of the later key, in either arrival order', () => {
    // Stripe's `aborted` event carries status canceled; a status-canceled `updated` may come with it.
    const aborted: AppliedEvent = {
      id: 'evt_1C',
      created: T + 2,
      stage: stageOf('subscription_schedule.aborted', 'canceled'),
    };
    const canceled: AppliedEvent = {
      id: 'evt_1D',
      created: T + 2,
      stage: stageOf('subscription_schedule.updated', 'canceled'),
    };
    const active = at('active', T + 1);
    const fold = (events: AppliedEvent[]) =>
      events.reduce((snapshot, event) => applyScheduleEvent(snapshot, event).snapshot, active);
    // Same second: aborted ranks above canceled, whatever the ids.
    expect(fold([aborted, canceled])).toEqual({ state: 'aborted', applied: aborted });
    expect(fold([canceled, aborted])).toEqual({ state: 'aborted', applied: aborted });
    // A later second wins among terminal events, as the key says.
    const laterCanceled = { ...canceled, created: T + 3 };
    expect(fold([aborted, laterCanceled])).toEqual({ state: 'canceled', applied: laterCanceled });
    expect(fold([laterCanceled, aborted])).toEqual({ state: 'canceled', applied: laterCanceled });
  });

  it('a late created (not_started) after active does not go back', () => {
    const previous = at('active', T + 10);
    const late: AppliedEvent = {
      id: 'evt_created',
      created: T,
      stage: stageOf('subscription_schedule.created', 'not_started'),
    };
    expect(applyScheduleEvent(previous, late)).toEqual({ snapshot: previous, changed: false });
    // The guard refuses notStarted from active outright, even with a newer key.
    expect(applyScheduleEvent(previous, { ...late, created: T + 20 })).toEqual({ snapshot: previous, changed: false });
  });

  it('expiring changes no state (only the marker moves forward)', () => {
    const previous = at('active', T);
    const expiring: AppliedEvent = {
      id: 'evt_expiring',
      created: T + 60,
      stage: stageOf('subscription_schedule.expiring', 'active'),
    };
    expect(applyScheduleEvent(previous, expiring)).toEqual({
      snapshot: { state: 'active', applied: expiring },
      changed: true,
    });
  });

  it('an aborted event whose object says canceled ends in aborted', () => {
    const aborted: AppliedEvent = {
      id: 'evt_aborted',
      created: T + 60,
      stage: stageOf('subscription_schedule.aborted', 'canceled'),
    };
    expect(applyScheduleEvent(at('active'), aborted)).toEqual({
      snapshot: { state: 'aborted', applied: aborted },
      changed: true,
    });
  });

  it('a duplicate event is not applied twice', () => {
    const event: AppliedEvent = { id: 'evt_1', created: T, stage: 'active' };
    const first = applyScheduleEvent(at('notStarted', T - 5), event);
    expect(first.changed).toBe(true);
    const again = applyScheduleEvent(first.snapshot, { ...event });
    expect(again).toEqual({ snapshot: first.snapshot, changed: false });
  });

  it('an older event (smaller created) is dropped', () => {
    const previous = at('active', T + 10, 'evt_a');
    expect(applyScheduleEvent(previous, { id: 'evt_z', created: T + 9, stage: 'active' })).toEqual({
      snapshot: previous,
      changed: false,
    });
  });

  it('same second, lower rank is dropped', () => {
    const previous = at('active', T, 'evt_a');
    expect(applyScheduleEvent(previous, { id: 'evt_z', created: T, stage: 'not_started' })).toEqual({
      snapshot: previous,
      changed: false,
    });
  });

  it('same second, same rank: the larger id is accepted, the smaller dropped', () => {
    const previous = at('active', T, 'evt_m');
    const larger: AppliedEvent = { id: 'evt_n', created: T, stage: 'active' };
    expect(applyScheduleEvent(previous, larger)).toEqual({
      snapshot: { state: 'active', applied: larger },
      changed: true,
    });
    const smaller: AppliedEvent = { id: 'evt_l', created: T, stage: 'active' };
    expect(applyScheduleEvent(previous, smaller)).toEqual({ snapshot: previous, changed: false });
  });
});

describe('accountStatus', () => {
  it.each([
    ['notStarted', 'on-hold'],
    ['active', 'active'],
    ['completed', 'inactive'],
    ['released', 'inactive'],
    ['canceled', 'inactive'],
    ['aborted', 'inactive'],
  ] as const)('%s → %s', (state, status) => {
    expect(accountStatus(state)).toBe(status);
  });
});

describe('order independence (property)', () => {
  interface Step {
    type: string;
    status: string;
  }
  const created: Step = { type: 'subscription_schedule.created', status: 'not_started' };
  const updatedNotStarted: Step = { type: 'subscription_schedule.updated', status: 'not_started' };
  const activation: Step = { type: 'subscription_schedule.updated', status: 'active' };
  const updatedActive: Step = { type: 'subscription_schedule.updated', status: 'active' };
  const expiring: Step = { type: 'subscription_schedule.expiring', status: 'active' };
  const endings: Step[] = [
    { type: 'subscription_schedule.completed', status: 'completed' },
    { type: 'subscription_schedule.released', status: 'released' },
    { type: 'subscription_schedule.canceled', status: 'canceled' },
    { type: 'subscription_schedule.aborted', status: 'canceled' },
  ];

  // created → updated* → active → (updated or expiring)* → one ending (or none yet), in time order.
  const stepsArb = fc
    .record({
      before: fc.array(fc.constant(updatedNotStarted), { maxLength: 3 }),
      after: fc.array(fc.constant(updatedActive), { maxLength: 3 }),
      expiring: fc.option(fc.nat({ max: 3 }), { nil: undefined }),
      ending: fc.option(fc.constantFrom(...endings), { nil: undefined, freq: 5 }),
    })
    .map(({ before, after, expiring: at, ending }) => {
      const late = [...after];
      if (at !== undefined) {
        late.splice(Math.min(at, late.length), 0, expiring);
      }
      return [created, ...before, activation, ...late, ...(ending ? [ending] : [])];
    });

  const lifecycleArb: fc.Arbitrary<AppliedEvent[]> = stepsArb.chain((steps) =>
    fc
      .tuple(
        // Gaps of 0 put several events in the same second.
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: steps.length, maxLength: steps.length }),
        fc.uniqueArray(fc.stringMatching(/^[0-9A-Za-z]{1,10}$/), {
          minLength: steps.length,
          maxLength: steps.length,
        })
      )
      .map(([gaps, ids]) => {
        let time = T;
        return steps.map((step, i) => {
          time += gaps[i] ?? 0;
          return { id: `evt_${ids[i] ?? i}`, created: time, stage: stageOf(step.type, step.status) };
        });
      })
  );

  /** A permutation of the events, each delivered at least once, some more (copies, as a retry would parse). */
  const deliveriesArb = lifecycleArb.chain((events) =>
    fc
      .tuple(
        fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
        fc.array(fc.tuple(fc.nat({ max: events.length - 1 }), fc.nat()), { maxLength: 6 })
      )
      .map(([shuffled, duplicates]) => {
        const deliveries = [...shuffled];
        for (const [which, where] of duplicates) {
          const original = events[which];
          if (original !== undefined) {
            deliveries.splice(where % (deliveries.length + 1), 0, { ...original });
          }
        }
        return { events, deliveries };
      })
  );

  const fold = (events: readonly AppliedEvent[]): ScheduleSnapshot | undefined =>
    events.reduce<ScheduleSnapshot | undefined>(
      (snapshot, event) => applyScheduleEvent(snapshot, event).snapshot,
      undefined
    );

  it('folding any arrival order gives the snapshot of folding the key order', () => {
    fc.assert(
      fc.property(deliveriesArb, ({ events, deliveries }) => {
        const sorted = [...events].sort((a, b) => compareEvents(a, b, scheduleLifecycle));
        const expected = fold(sorted);
        const last = sorted.at(-1);
        expect(expected).toEqual(last && { state: stateOfStage(last.stage), applied: last });
        expect(fold(deliveries)).toEqual(expected);
      }),
      { numRuns: 500 }
    );
  });
});

describe('generated doc', () => {
  it('the Mermaid diagram starts in notStarted and ends in the final states', () => {
    const mermaid = renderScheduleMermaid();
    expect(mermaid.split('\n')[0]).toBe('stateDiagram-v2');
    expect(mermaid).toContain('[*] --> notStarted');
    for (const state of FINAL_STATES) {
      expect(mermaid).toContain(`${state} --> [*]`);
    }
    expect(mermaid).not.toContain('active --> notStarted');
  });

  it('docs/subscription-schedule-machine.md matches the generator (run: npx tsx scripts/render-machine-doc.ts)', () => {
    const committed = readFileSync(DOC_PATH, 'utf8');
    expect(committed).toBe(renderMachineDoc(committed));
  });
});
