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

/**
 * The archive of one Stripe event: a Communication keyed by the event id, holding the event JSON.
 * It has no subject, sender or recipient, so it never enters a Patient compartment, and it never
 * holds request headers.
 */
export function buildArchive(
  event: ArchivedEvent,
  json: string,
  status: 'in-progress' | 'completed',
  note?: string
): Communication {
  return {
    resourceType: 'Communication',
    identifier: [{ system: STRIPE_SYSTEM.event, value: event.id }],
    status,
    category: [{ coding: [{ system: STRIPE_SYSTEM.eventType, code: event.type }], text: event.type }],
    topic: { text: `Stripe event ${event.type}` },
    sent: unixToDateTime(event.created),
    payload: [
      {
        contentAttachment: {
          contentType: 'application/json',
          data: Buffer.from(json, 'utf8').toString('base64'),
          title: `${event.id}.json`,
        },
      },
    ],
    ...(note && { note: [{ text: note }] }),
  };
}

/** Marks the archive completed and points it at what the event produced. */
export function completionPatch(archive: Communication, resources: readonly string[], note?: string): PatchOperation[] {
  return [
    { op: 'add', path: '/status', value: 'completed' },
    ...(archive.statusReason ? [{ op: 'remove' as const, path: '/statusReason' }] : []),
    ...(resources.length
      ? [{ op: 'add' as const, path: '/about', value: resources.map((reference) => ({ reference })) }]
      : []),
    ...(note ? [{ op: 'add' as const, path: '/note', value: [{ text: note }] }] : []),
  ];
}

/** Marks the archive stopped with the reason, so an operator sees which events to replay. */
export function failurePatch(reason: string): PatchOperation[] {
  return [
    { op: 'add', path: '/status', value: 'stopped' },
    {
      op: 'add',
      path: '/statusReason',
      value: { coding: [{ system: CODE_SYSTEM.archiveOutcome, code: 'target-failed' }], text: reason.slice(0, 1000) },
    },
  ];
}

/** The event JSON an archive holds. */
export function archivedJson(archive: Communication): string | undefined {
  const data = archive.payload?.[0]?.contentAttachment?.data;
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
}
