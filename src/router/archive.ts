import type { PatchOperation } from '@medplum/core';
import type { Communication } from '@medplum/fhirtypes';
import { Buffer } from 'node:buffer';
import { CODE_SYSTEM, STRIPE_SYSTEM } from '../constants';
import { unixToDateTime } from '../fhir/order';

/** The envelope fields the archive needs; the router has checked them. */
export interface ArchivedEvent {
  readonly id: string;
  readonly type: string;
  /** Unix seconds. */
  readonly created: number;
}

/** Why an archive is `stopped`: its target bot failed, or a Project secret is malformed. */
export type StopCode = 'target-failed' | 'configuration';

/** How an event ended, which is what its archive records. */
export type ArchiveOutcome =
  | { readonly status: 'completed'; readonly resources: readonly string[]; readonly note?: string }
  | { readonly status: 'stopped'; readonly code: StopCode; readonly reason: string };

const MAX_REASON_LENGTH = 1000;

/**
 * The archive of one Stripe event, in its final status: a Communication keyed by the event id,
 * holding the event JSON. It has no subject, sender or recipient, so it never enters a Patient
 * compartment, and it never holds request headers.
 */
export function buildArchive(event: ArchivedEvent, json: string, outcome: ArchiveOutcome): Communication {
  return {
    resourceType: 'Communication',
    identifier: [{ system: STRIPE_SYSTEM.event, value: event.id }],
    status: outcome.status,
    ...(outcome.status === 'stopped' && { statusReason: stopReason(outcome.code, outcome.reason) }),
    category: [{ coding: [{ system: STRIPE_SYSTEM.eventType, code: event.type }], text: event.type }],
    topic: { text: `Stripe event ${event.type}` },
    sent: unixToDateTime(event.created, 'event.created'),
    payload: [
      {
        contentAttachment: {
          contentType: 'application/json',
          data: Buffer.from(json, 'utf8').toString('base64'),
          title: `${event.id}.json`,
        },
      },
    ],
    ...(outcome.status === 'completed' && resourceFields(outcome.resources, outcome.note)),
  };
}

function resourceFields(resources: readonly string[], note: string | undefined): Partial<Communication> {
  return {
    ...(resources.length && { about: resources.map((reference) => ({ reference })) }),
    ...(note && { note: [{ text: note }] }),
  };
}

function stopReason(code: StopCode, reason: string): Communication['statusReason'] {
  return { coding: [{ system: CODE_SYSTEM.archiveOutcome, code }], text: reason.slice(0, MAX_REASON_LENGTH) };
}

/**
 * Brings a stored archive that did not complete (a failure, or `in-progress` left by an older
 * version of the router) to `outcome`. Undefined when there is nothing to change.
 */
export function archiveUpdatePatch(stored: Communication, outcome: ArchiveOutcome): PatchOperation[] | undefined {
  if (stored.status === 'completed') {
    return undefined;
  }
  if (outcome.status === 'stopped') {
    return [
      { op: 'add', path: '/status', value: 'stopped' },
      { op: 'add', path: '/statusReason', value: stopReason(outcome.code, outcome.reason) },
    ];
  }
  return [
    { op: 'add', path: '/status', value: 'completed' },
    ...(stored.statusReason ? [{ op: 'remove' as const, path: '/statusReason' }] : []),
    ...(outcome.resources.length
      ? [{ op: 'add' as const, path: '/about', value: outcome.resources.map((reference) => ({ reference })) }]
      : []),
    ...(outcome.note ? [{ op: 'add' as const, path: '/note', value: [{ text: outcome.note }] }] : []),
  ];
}

/** The event JSON an archive holds. */
export function archivedJson(archive: Communication): string | undefined {
  const data = archive.payload?.[0]?.contentAttachment?.data;
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
}
