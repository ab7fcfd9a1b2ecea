import { badRequest, OperationOutcomeError, type BotEvent } from '@medplum/core';
import type { BotConfig } from '../config';
import { verifyStripeSignature, type SignatureMode } from './signature';

export type Sender =
  { readonly kind: 'stripe'; readonly mode: SignatureMode } | { readonly kind: 'operator'; readonly requester: string };

/**
 * Decides who sent the request: Stripe (a valid `Stripe-Signature`) or an operator listed in
 * `STRIPE_OPERATORS` (an unsigned replay). Anything else is rejected by throwing, before the
 * body is archived or logged.
 */
export function authenticate(
  botEvent: BotEvent,
  json: string,
  config: Pick<BotConfig, 'webhookSecrets' | 'operators'>
): Sender {
  const header = headerValue(botEvent.headers, 'stripe-signature');
  if (header !== undefined) {
    const input = botEvent.input;
    const check = verifyStripeSignature({
      payload: input,
      // The envelope parser serialised a parsed body already, exactly as verification would.
      ...(typeof input !== 'string' && { serialized: json }),
      header,
      secrets: config.webhookSecrets,
    });
    if (!check.ok) {
      throw new OperationOutcomeError(badRequest(`Stripe signature rejected (${check.mode}): ${check.reason}`));
    }
    return { kind: 'stripe', mode: check.mode };
  }
  const requester = botEvent.requester?.reference;
  if (requester && config.operators.includes(requester)) {
    return { kind: 'operator', requester };
  }
  throw new OperationOutcomeError(
    badRequest(
      'No Stripe-Signature header, and the requester is not listed in STRIPE_OPERATORS: ' +
        'only Stripe (signed) or an operator (replay) may post events'
    )
  );
}

function headerValue(headers: BotEvent['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key.toLowerCase() === name) {
      return Array.isArray(value) ? value.join(',') : value;
    }
  }
  return undefined;
}
