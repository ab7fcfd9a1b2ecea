import { assign, initialTransition, setup, transition } from 'xstate';
import type { AppliedEvent, Lifecycle } from '../event-order';
import { supersedes } from '../event-order';

/**
 * The lifecycle of a Stripe subscription schedule as a pure xstate v5 machine (no I/O, no actors).
 *
 * Every Stripe event is reduced to an {@link AppliedEvent} whose `stage` is the schedule's stage after
 * the event ({@link scheduleStage}). The machine moves to the state of that stage when the event
 * supersedes the last applied one by the shared order key (`supersedes` in src/event-order.ts); it
 * drops the event otherwise. A final state is never left for `notStarted` or `active`: it absorbs
 * every later non-terminal event. It does take a newer *terminal* event (e.g. a status-canceled
 * `updated` after `aborted` in a later second): otherwise the state would be whichever terminal
 * event arrived first, and the result would depend on arrival order (docs/design.md, "Ordering, duplicates, concurrency").
 */

/** The machine's states; the first is the initial one, the last four are final. */
export const SCHEDULE_STATES = ['notStarted', 'active', 'completed', 'released', 'canceled', 'aborted'] as const;
export type ScheduleState = (typeof SCHEDULE_STATES)[number];

/** The lifecycle stages of a schedule: Stripe's statuses plus `aborted`, which only the event type says. */
export const SCHEDULE_STAGES = ['not_started', 'active', 'completed', 'released', 'canceled', 'aborted'] as const;
export type ScheduleStage = (typeof SCHEDULE_STAGES)[number];

export const FINAL_STATES: readonly ScheduleState[] = ['completed', 'released', 'canceled', 'aborted'];

const STATE_OF_STAGE: Readonly<Record<ScheduleStage, ScheduleState>> = {
  not_started: 'notStarted',
  active: 'active',
  completed: 'completed',
  released: 'released',
  canceled: 'canceled',
  aborted: 'aborted',
};

const STAGE_RANK: Readonly<Record<ScheduleStage, number>> = {
  not_started: 0,
  active: 1,
  completed: 2,
  released: 2,
  canceled: 2,
  // Stripe sends `aborted` with status `canceled`, often beside a status-canceled `updated` of the
  // same second: ranking it higher keeps the more precise stage whatever the event ids.
  aborted: 3,
};

const TERMINAL_STAGES: readonly ScheduleStage[] = ['completed', 'released', 'canceled', 'aborted'];

/** Statuses Stripe gives a subscription schedule object. */
const STRIPE_STATUSES: ReadonlySet<string> = new Set(['not_started', 'active', 'completed', 'released', 'canceled']);

export function isScheduleStage(stage: string): stage is ScheduleStage {
  return Object.hasOwn(STATE_OF_STAGE, stage);
}

export function isScheduleState(value: unknown): value is ScheduleState {
  return typeof value === 'string' && (SCHEDULE_STATES as readonly string[]).includes(value);
}

/**
 * Ranks of the schedule stages: `not_started` 0, `active` 1, `completed`/`released`/`canceled` 2,
 * `aborted` 3; the last four are terminal. An unknown stage ranks below all (-1) and is not terminal.
 */
export const scheduleLifecycle: Lifecycle = {
  rank: (stage) => (isScheduleStage(stage) ? STAGE_RANK[stage] : -1),
  isTerminal: (stage) => isScheduleStage(stage) && TERMINAL_STAGES.includes(stage),
};

/**
 * The stage a `subscription_schedule.*` event puts the schedule in. The object's own `status` decides;
 * the event type only where no status says it: `subscription_schedule.aborted` carries status
 * `canceled` but ends the schedule as `aborted`. `expiring` events follow their status (usually
 * `active`). An unknown status gives `undefined`.
 */
export function scheduleStage(eventType: string, objectStatus: string): ScheduleStage | undefined {
  if (!STRIPE_STATUSES.has(objectStatus)) {
    return undefined;
  }
  if (eventType === 'subscription_schedule.aborted') {
    return 'aborted';
  }
  return objectStatus as ScheduleStage;
}

/** The machine state a stage leads to. Throws on an unknown stage. */
export function stateOfStage(stage: string): ScheduleState {
  if (!isScheduleStage(stage)) {
    throw new Error(`Unknown subscription schedule stage: ${stage}`);
  }
  return STATE_OF_STAGE[stage];
}

export function isFinalState(state: ScheduleState): boolean {
  return FINAL_STATES.includes(state);
}

/** FHIR `Account.status` for a machine state. */
export function accountStatus(state: ScheduleState): 'on-hold' | 'active' | 'inactive' {
  switch (state) {
    case 'notStarted':
      return 'on-hold';
    case 'active':
      return 'active';
    default:
      return 'inactive';
  }
}

export interface ScheduleContext {
  /** The last applied event. */
  applied?: AppliedEvent;
}

export interface ScheduleMachineEvent {
  type: 'stripe.event';
  event: AppliedEvent;
}

/** One guarded transition per stage: taken when the event has that stage and supersedes the applied one. */
function edgesFor(stages: readonly ScheduleStage[]) {
  return stages.map((stage) => ({
    guard: { type: 'accepts' as const, params: { stage } },
    target: STATE_OF_STAGE[stage],
    actions: 'record' as const,
  }));
}

export const scheduleMachine = setup({
  types: {
    context: {} as ScheduleContext,
    events: {} as ScheduleMachineEvent,
  },
  guards: {
    accepts: ({ context, event }, params: { stage: ScheduleStage }) =>
      event.event.stage === params.stage && supersedes(event.event, context.applied, scheduleLifecycle),
  },
  actions: {
    record: assign({ applied: ({ event }) => event.event }),
  },
}).createMachine({
  id: 'subscriptionSchedule',
  initial: 'notStarted',
  context: {},
  states: {
    notStarted: {
      on: { 'stripe.event': edgesFor(SCHEDULE_STAGES) },
    },
    active: {
      // No `not_started` edge: an active schedule never goes back, whatever the event's key says.
      on: { 'stripe.event': edgesFor(['active', 'completed', 'released', 'canceled', 'aborted']) },
    },
    // Final states: only a newer terminal event moves them (see the module comment).
    completed: { on: { 'stripe.event': edgesFor(TERMINAL_STAGES) } },
    released: { on: { 'stripe.event': edgesFor(TERMINAL_STAGES) } },
    canceled: { on: { 'stripe.event': edgesFor(TERMINAL_STAGES) } },
    aborted: { on: { 'stripe.event': edgesFor(TERMINAL_STAGES) } },
  },
});

/** What we keep of a schedule's machine between events (on the Account resource). */
export interface ScheduleSnapshot {
  readonly state: ScheduleState;
  readonly applied?: AppliedEvent;
}

type MachineSnapshot = ReturnType<typeof initialTransition<typeof scheduleMachine>>[0];

function restore(previous: ScheduleSnapshot | undefined): MachineSnapshot {
  if (previous === undefined) {
    return initialTransition(scheduleMachine)[0];
  }
  return scheduleMachine.resolveState({
    value: previous.state,
    context: previous.applied === undefined ? {} : { applied: previous.applied },
  });
}

function toScheduleSnapshot(snapshot: MachineSnapshot): ScheduleSnapshot {
  const state = snapshot.value;
  if (!isScheduleState(state)) {
    throw new Error(`Unexpected subscription schedule machine state: ${JSON.stringify(state)}`);
  }
  const { applied } = snapshot.context;
  return applied === undefined ? { state } : { state, applied };
}

/**
 * Applies one event to a schedule. `previous` undefined means no Account yet: the machine starts in
 * `notStarted` with no applied event. `changed` is true when the event was accepted.
 */
export function applyScheduleEvent(
  previous: ScheduleSnapshot | undefined,
  event: AppliedEvent
): { snapshot: ScheduleSnapshot; changed: boolean } {
  const before = restore(previous);
  const [after] = transition(scheduleMachine, before, { type: 'stripe.event', event });
  const changed = after.context.applied !== before.context.applied;
  return { snapshot: changed ? toScheduleSnapshot(after) : toScheduleSnapshot(before), changed };
}

/** The stage whose events lead to `state` (for a representative applied event). */
function stageOfState(state: ScheduleState): ScheduleStage {
  const stage = SCHEDULE_STAGES.find((s) => STATE_OF_STAGE[s] === state);
  if (stage === undefined) {
    throw new Error(`No stage leads to ${state}`);
  }
  return stage;
}

export interface ScheduleTransition {
  from: ScheduleState;
  stage: ScheduleStage;
  to: ScheduleState | 'dropped';
}

/**
 * Every (state × stage) pair, computed by running the machine: from a snapshot in `from` whose applied
 * event has `from`'s stage, apply an event of `stage` created one second later.
 */
export function scheduleTransitionTable(): ScheduleTransition[] {
  const table: ScheduleTransition[] = [];
  for (const from of SCHEDULE_STATES) {
    const previous: ScheduleSnapshot = {
      state: from,
      applied: { id: 'evt_previous', created: 1_700_000_000, stage: stageOfState(from) },
    };
    for (const stage of SCHEDULE_STAGES) {
      const { snapshot, changed } = applyScheduleEvent(previous, {
        id: 'evt_next',
        created: 1_700_000_001,
        stage,
      });
      table.push({ from, stage, to: changed ? snapshot.state : 'dropped' });
    }
  }
  return table;
}

/** A Mermaid `stateDiagram-v2` of the machine: its accepted transitions labelled by stage. */
export function renderScheduleMermaid(): string {
  const lines = ['stateDiagram-v2', `  [*] --> ${scheduleMachine.config.initial as string}`];
  for (const { from, stage, to } of scheduleTransitionTable()) {
    if (to !== 'dropped') {
      lines.push(`  ${from} --> ${to}: ${stage}`);
    }
  }
  for (const state of FINAL_STATES) {
    lines.push(`  ${state} --> [*]`);
  }
  return lines.join('\n');
}
