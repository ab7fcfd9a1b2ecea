import type { BotEvent, MedplumClient } from '@medplum/core';
import { syncCustomerFamily } from '../src/handlers/customer-family';
import type { TargetResult } from '../src/handlers/target';

/** `customer.created|updated|deleted` and `checkout.session.*`, dispatched by stripe-router → Patient context. */
export async function handler(medplum: MedplumClient, event: BotEvent): Promise<TargetResult> {
  return syncCustomerFamily(medplum, event);
}
