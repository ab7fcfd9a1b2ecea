import { assign, initialTransition, setup, transition } from 'xstate';
import type { AppliedEvent, Lifecycle } from '../event-order';
import { supersedes } from '../event-order';

/**
 * The lifecycle of a Stripe subscription as a pure xstate v5 machine (no I/O, no actors).
 *
 * Every `customer.subscription.*` event is reduced to an {@link AppliedEvent} whose `stage` is the
 * subscription's own `status` after the event ({@link subscriptionStage}). Between non-final
 * statuses the object's status decides, even for moves Stripe rarely makes (`active` back to
 * `incomplete`): the machine takes any event that supersedes the last applied one by the shared order
 * key (src/event-order.ts) and refuses only stale events. `canceled` and `incomplete_expired` are
 * final: they are never left for a non-final status. Like the schedule machine, a final state does
 * take a newer *terminal* event (a later status-canceled `updated` after `deleted`), so that the
 * marker, and the state, never depend on which terminal event arrived first.
 */

/** The machine's states; the first is the initial one, the last two are final. */
export const SUBSCRIPTION_STATES = [
  'incomplete',
  'trialing',
  'active',
  'pastDue',
  'unpaid',
  'paused',
  'canceled',
  'incompleteExpired',
] as const;
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

/** Stripe's subscription statuses, which are the stages. */
export const SUBSCRIPTION_STAGES = [
  'incomplete',
  'trialing',
  'active',
  'past_due',
  'unpaid',
  'paused',
  'canceled',
  'incomplete_expired',
] as const;
export type SubscriptionStage = (typeof SUBSCRIPTION_STAGES)[number];

export const FINAL_SUBSCRIPTION_STATES: readonly SubscriptionState[] = ['canceled', 'incompleteExpired'];

const STATE_OF_STAGE: Readonly<Record<SubscriptionStage, SubscriptionState>> = {
  incomplete: 'incomplete',
  trialing: 'trialing',
  active: 'active',
  past_due: 'pastDue',
  unpaid: 'unpaid',
  paused: 'paused',
  canceled: 'canceled',
  incomplete_expired: 'incompleteExpired',
};

/** Same-second order: incomplete < trialing < active < past_due < unpaid = paused < the final ones. */
const STAGE_RANK: Readonly<Record<SubscriptionStage, number>> = {
  incomplete: 0,
  trialing: 1,
  active: 2,
  past_due: 3,
  unpaid: 4,
  paused: 4,
  canceled: 5,
  incomplete_expired: 5,
};

const TERMINAL_STAGES: readonly SubscriptionStage[] = ['canceled', 'incomplete_expired'];

export function isSubscriptionStage(stage: unknown): stage is SubscriptionStage {
  return typeof stage === 'string' && Object.hasOwn(STATE_OF_STAGE, stage);
}

export function isSubscriptionState(value: unknown): value is SubscriptionState {
  return typeof value === 'string' && (SUBSCRIPTION_STATES as readonly string[]).includes(value);
}

/** Ranks of the subscription stages (see STAGE_RANK); an unknown stage ranks below all and is not terminal. */
export const subscriptionLifecycle: Lifecycle = {
  rank: (stage) => (isSubscriptionStage(stage) ? STAGE_RANK[stage] : -1),
  isTerminal: (stage) => isSubscriptionStage(stage) && TERMINAL_STAGES.includes(stage),
};

/**
 * The stage a `customer.subscription.*` event puts the subscription in: its own `status`. The event
 * type decides only where the status does not say it: `customer.subscription.deleted` ends the
 * subscription, so a non-final status there reads `canceled` (Stripe sends `canceled`). An unknown
 * status gives `undefined`. `trial_will_end`, `pending_update_*`, `paused` and `resumed` follow their
 * status (`trial_will_end` changes no state: it only moves the marker).
 */
export function subscriptionStage(eventType: string, objectStatus: unknown): SubscriptionStage | undefined {
  if (!isSubscriptionStage(objectStatus)) {
    return undefined;
  }
  if (eventType === 'customer.subscription.deleted' && !TERMINAL_STAGES.includes(objectStatus)) {
    return 'canceled';
  }
  return objectStatus;
}

/** The machine state a stage leads to. Throws on an unknown stage. */
export function subscriptionStateOfStage(stage: string): SubscriptionState {
  if (!isSubscriptionStage(stage)) {
    throw new Error(`Unknown subscription stage: ${stage}`);
  }
  return STATE_OF_STAGE[stage];
}

export function isFinalSubscriptionState(state: SubscriptionState): boolean {
  return FINAL_SUBSCRIPTION_STATES.includes(state);
}

/** FHIR `Account.status` for a machine state. */
export function subscriptionAccountStatus(state: SubscriptionState): 'on-hold' | 'active' | 'inactive' {
  switch (state) {
    case 'trialing':
    case 'active':
    case 'pastDue':
      return 'active';
    case 'incomplete':
    case 'paused':
    case 'unpaid':
      return 'on-hold';
    case 'canceled':
    case 'incompleteExpired':
      return 'inactive';
  }
}

export interface SubscriptionContext {
  /** The last applied event. */
  applied?: AppliedEvent;
}

export interface SubscriptionMachineEvent {
  type: 'stripe.event';
  event: AppliedEvent;
}

function edgesFor(stages: readonly SubscriptionStage[]) {
  return stages.map((stage) => ({
    guard: { type: 'accepts' as const, params: { stage } },
    target: STATE_OF_STAGE[stage],
    actions: 'record' as const,
  }));
}

const open = { on: { 'stripe.event': edgesFor(SUBSCRIPTION_STAGES) } };
// Final states: only a newer terminal event moves them (see the module comment).
const final = { on: { 'stripe.event': edgesFor(TERMINAL_STAGES) } };

export const subscriptionMachine = setup({
  types: {
    context: {} as SubscriptionContext,
    events: {} as SubscriptionMachineEvent,
  },
  guards: {
    accepts: ({ context, event }, params: { stage: SubscriptionStage }) =>
      event.event.stage === params.stage && supersedes(event.event, context.applied, subscriptionLifecycle),
  },
  actions: {
    record: assign({ applied: ({ event }) => event.event }),
  },
}).createMachine({
  id: 'subscription',
  initial: 'incomplete',
  context: {},
  states: {
    incomplete: open,
    trialing: open,
    active: open,
    pastDue: open,
    unpaid: open,
    paused: open,
    canceled: final,
    incompleteExpired: final,
  },
});

/** What we keep of a subscription's machine between events (on the Account resource). */
export interface SubscriptionSnapshot {
  readonly state: SubscriptionState;
  readonly applied?: AppliedEvent;
}

type MachineSnapshot = ReturnType<typeof initialTransition<typeof subscriptionMachine>>[0];

function restore(previous: SubscriptionSnapshot | undefined): MachineSnapshot {
  if (previous === undefined) {
    return initialTransition(subscriptionMachine)[0];
  }
  return subscriptionMachine.resolveState({
    value: previous.state,
    context: previous.applied === undefined ? {} : { applied: previous.applied },
  });
}

function toSnapshot(snapshot: MachineSnapshot): SubscriptionSnapshot {
  const state = snapshot.value;
  if (!isSubscriptionState(state)) {
    throw new Error(`Unexpected subscription machine state: ${JSON.stringify(state)}`);
  }
  const { applied } = snapshot.context;
  return applied === undefined ? { state } : { state, applied };
}

/**
 * Applies one event to a subscription. `previous` undefined means no subscription event applied yet:
 * the machine starts in `incomplete` with no applied event, so the first event is always accepted.
 * `changed` is true when the event was accepted.
 */
export function applySubscriptionEvent(
  previous: SubscriptionSnapshot | undefined,
  event: AppliedEvent
): { snapshot: SubscriptionSnapshot; changed: boolean } {
  const before = restore(previous);
  const [after] = transition(subscriptionMachine, before, { type: 'stripe.event', event });
  const changed = after.context.applied !== before.context.applied;
  return { snapshot: changed ? toSnapshot(after) : toSnapshot(before), changed };
}

function stageOfState(state: SubscriptionState): SubscriptionStage {
  const stage = SUBSCRIPTION_STAGES.find((s) => STATE_OF_STAGE[s] === state);
  if (stage === undefined) {
    throw new Error(`No stage leads to ${state}`);
  }
  return stage;
}

export interface SubscriptionTransition {
  from: SubscriptionState;
  stage: SubscriptionStage;
  to: SubscriptionState | 'dropped';
}

/**
 * Every (state × stage) pair, computed by running the machine: from a snapshot in `from` whose applied
 * event has `from`'s stage, apply an event of `stage` created one second later.
 */
export function subscriptionTransitionTable(): SubscriptionTransition[] {
  const table: SubscriptionTransition[] = [];
  for (const from of SUBSCRIPTION_STATES) {
    const previous: SubscriptionSnapshot = {
      state: from,
      applied: { id: 'evt_previous', created: 1_700_000_000, stage: stageOfState(from) },
    };
    for (const stage of SUBSCRIPTION_STAGES) {
      const { snapshot, changed } = applySubscriptionEvent(previous, {
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
export function renderSubscriptionMermaid(): string {
  const lines = ['stateDiagram-v2', `  [*] --> ${subscriptionMachine.config.initial as string}`];
  for (const { from, stage, to } of subscriptionTransitionTable()) {
    if (to !== 'dropped') {
      lines.push(`  ${from} --> ${to}: ${stage}`);
    }
  }
  for (const state of FINAL_SUBSCRIPTION_STATES) {
    lines.push(`  ${state} --> [*]`);
  }
  return lines.join('\n');
}
