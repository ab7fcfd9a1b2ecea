import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { StripeEvent } from '../stripe/types';

/** What a target bot answers the router. */
export interface TargetResult {
  readonly outcome: 'processed' | 'ignored';
  /** References of the resources that show the event (e.g. `Invoice/123`). */
  readonly resources: readonly string[];
  readonly reason?: string;
  /**
   * What the archive keeps of a processed event besides its outcome (a refused claim, a partial
   * back-fill, a buyer-written reference ignored). Unlike `reason`, which may say that nothing new
   * happened, it does not depend on arrival order.
   */
  readonly note?: string;
}

export function ignored(reason: string): TargetResult {
  return { outcome: 'ignored', resources: [], reason };
}

/** Checks the envelope of a Stripe event handed to a target bot, which the router has verified. */
export function requireStripeEvent(input: unknown, typePrefix: string): StripeEvent {
  const event = input as Partial<StripeEvent> | null;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw invalid('input must be a Stripe event object');
  }
  if (typeof event.id !== 'string' || typeof event.type !== 'string' || typeof event.created !== 'number') {
    throw invalid('a Stripe event needs a string id and type and a numeric created');
  }
  if (!event.type.startsWith(typePrefix)) {
    throw invalid(`this bot handles ${typePrefix}* events, not ${event.type}`);
  }
  const object = event.data?.object as { object?: unknown } | undefined;
  if (typeof object !== 'object' || object === null || typeof object.object !== 'string') {
    throw invalid(`event ${event.id} has no data.object`);
  }
  return event as StripeEvent;
}

function invalid(message: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(`Invalid Stripe event: ${message}`));
}
