import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { ArchivedEvent } from './archive';

/** Largest event body the router accepts, in UTF-16 code units of its JSON text. */
export const MAX_EVENT_BODY_LENGTH = 1024 * 1024;

export interface ParsedEnvelope extends ArchivedEvent {
  /** The event as JSON text: the raw body, or Stripe's serialisation of the parsed body. */
  readonly json: string;
  readonly event: Record<string, unknown>;
  readonly livemode?: boolean;
  /** A thin event (`v2.core.event` and other API v2 notifications) carries no object to map. */
  readonly thin: boolean;
}

/** Parses and checks the envelope of a posted event. Throws a 400 naming what is wrong. */
export function parseEnvelope(input: unknown): ParsedEnvelope {
  const json = typeof input === 'string' ? input : JSON.stringify(input, null, 2);
  if (json === undefined || json.length > MAX_EVENT_BODY_LENGTH) {
    throw invalid(`the body is empty or larger than ${MAX_EVENT_BODY_LENGTH} characters`);
  }
  let event: unknown = input;
  if (typeof input === 'string') {
    try {
      event = JSON.parse(input);
    } catch {
      throw invalid('the body is not JSON');
    }
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw invalid('the body is not a JSON object');
  }
  const e = event as Record<string, unknown>;
  if (typeof e.id !== 'string' || !e.id) {
    throw invalid('the event has no id');
  }
  if (typeof e.type !== 'string' || !e.type) {
    throw invalid(`event ${e.id} has no type`);
  }
  const created = typeof e.created === 'number' ? e.created : Date.parse(String(e.created)) / 1000;
  if (!Number.isFinite(created)) {
    throw invalid(`event ${e.id} has no valid created time`);
  }
  const thin = e.object === 'v2.core.event';
  const data = e.data as { object?: unknown } | undefined;
  if (!thin && (typeof data?.object !== 'object' || data.object === null)) {
    throw invalid(`event ${e.id} (${e.type}) has no data.object`);
  }
  return {
    id: e.id,
    type: e.type,
    created: Math.floor(created),
    json,
    event: e,
    thin,
    ...(typeof e.livemode === 'boolean' && { livemode: e.livemode }),
  };
}

function invalid(message: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(`Invalid Stripe event: ${message}`));
}
