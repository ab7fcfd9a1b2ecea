/**
 * The order key of Stripe events of one object (terminal or not, `event.created`, lifecycle rank,
 * event id). It lives below both the machines (src/machines) and the FHIR mapping (src/fhir), which
 * share it; src/fhir/order.ts re-exports it beside the marker that stores an applied event.
 */

/**
 * The Stripe event whose state a resource shows. `stage` is the lifecycle stage that event put the
 * object in (usually the object's `status`; the event type where no status says it, e.g. `deleted`).
 */
export interface AppliedEvent {
  readonly id: string;
  /** `event.created`, Unix seconds. */
  readonly created: number;
  readonly stage: string;
}

/** Ranks the lifecycle stages of one kind of Stripe object. */
export interface Lifecycle {
  /** Later stages rank higher; stages that are alternatives of each other share a rank. */
  rank(stage: string): number;
  /** A terminal stage is never left. */
  isTerminal(stage: string): boolean;
}

/**
 * Orders two events of one object by the key (terminal or not, `created`, lifecycle rank, event id).
 * Negative when `a` comes first. The result never depends on arrival order.
 */
export function compareEvents(a: AppliedEvent, b: AppliedEvent, lifecycle: Lifecycle): number {
  return (
    Number(lifecycle.isTerminal(a.stage)) - Number(lifecycle.isTerminal(b.stage)) ||
    a.created - b.created ||
    lifecycle.rank(a.stage) - lifecycle.rank(b.stage) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** True when `candidate` should replace the state written by `applied` (none: always). */
export function supersedes(candidate: AppliedEvent, applied: AppliedEvent | undefined, lifecycle: Lifecycle): boolean {
  return applied === undefined || compareEvents(candidate, applied, lifecycle) > 0;
}
