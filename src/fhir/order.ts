import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Extension, Resource } from '@medplum/fhirtypes';
import { EXTENSION } from '../constants';

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

/** Ranks the lifecycle stages of one kind of Stripe object (docs/design.md, "Ordering, duplicates, concurrency"). */
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

/** The marker we keep on every resource we write. */
export function appliedEventExtension(event: AppliedEvent): Extension {
  return {
    url: EXTENSION.lastAppliedEvent,
    extension: [
      { url: 'id', valueString: event.id },
      { url: 'created', valueDateTime: unixToDateTime(event.created, 'event.created') },
      { url: 'stage', valueCode: event.stage },
    ],
  };
}

/** Reads our marker; a resource without one (written by something else) counts as older than any event. */
export function readAppliedEvent(resource: Resource | undefined): AppliedEvent | undefined {
  const marker = extensionsOf(resource)?.find((e) => e.url === EXTENSION.lastAppliedEvent);
  const part = (url: string): Extension | undefined => marker?.extension?.find((e) => e.url === url);
  const id = part('id')?.valueString;
  const created = part('created')?.valueDateTime;
  const stage = part('stage')?.valueCode;
  if (!id || !created || !stage) {
    return undefined;
  }
  return { id, created: Math.floor(Date.parse(created) / 1000), stage };
}

/**
 * A Stripe timestamp (Unix seconds) as a FHIR dateTime. `field` names where it came from, so that a
 * malformed value fails with a message that says which one, rather than `Invalid time value`.
 */
export function unixToDateTime(seconds: number, field = 'timestamp'): string {
  return toDate(seconds, field).toISOString().replace('.000Z', 'Z');
}

export function unixToDate(seconds: number, field = 'timestamp'): string {
  return toDate(seconds, field).toISOString().slice(0, 10);
}

/** Date's own limit: ±8.64e15 ms. */
const MAX_UNIX_SECONDS = 8.64e12;

function toDate(seconds: unknown, field: string): Date {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || Math.abs(seconds) > MAX_UNIX_SECONDS) {
    throw new OperationOutcomeError(
      badRequest(
        `Invalid Stripe timestamp in ${field}: ${JSON.stringify(seconds)?.slice(0, 40) ?? String(seconds)} ` +
          '(expected Unix seconds, a number)'
      )
    );
  }
  return new Date(seconds * 1000);
}

function extensionsOf(resource: Resource | undefined): Extension[] | undefined {
  return (resource as { extension?: Extension[] } | undefined)?.extension;
}
