import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Extension, Resource } from '@medplum/fhirtypes';
import { EXTENSION } from '../constants';
import type { AppliedEvent } from '../event-order';

export { compareEvents, supersedes, type AppliedEvent, type Lifecycle } from '../event-order';

/**
 * The marker we keep on every resource we write. `url` names whose marker it is: a subscription's
 * Account carries the schedule's (the default) and the subscription's own.
 */
export function appliedEventExtension(event: AppliedEvent, url: string = EXTENSION.lastAppliedEvent): Extension {
  return {
    url,
    extension: [
      { url: 'id', valueString: event.id },
      { url: 'created', valueDateTime: unixToDateTime(event.created, 'event.created') },
      { url: 'stage', valueCode: event.stage },
    ],
  };
}

/** Reads our marker; a resource without one (written by something else) counts as older than any event. */
export function readAppliedEvent(
  resource: Resource | undefined,
  url: string = EXTENSION.lastAppliedEvent
): AppliedEvent | undefined {
  const marker = extensionsOf(resource)?.find((e) => e.url === url);
  const part = (name: string): Extension | undefined => marker?.extension?.find((e) => e.url === name);
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
