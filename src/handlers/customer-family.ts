import type { BotEvent, MedplumClient } from '@medplum/core';
import { syncCheckoutSession } from './checkout';
import { syncCustomer } from './customer';
import type { TargetResult } from './target';

/** The stripe-customer bot's events: checkout sessions to the checkout handler, the rest to the customer one. */
export function syncCustomerFamily(medplum: MedplumClient, botEvent: BotEvent): Promise<TargetResult> {
  const type = (botEvent.input as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type.startsWith('checkout.session.')
    ? syncCheckoutSession(medplum, botEvent)
    : syncCustomer(medplum, botEvent);
}
