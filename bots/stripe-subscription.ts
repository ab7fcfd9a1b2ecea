import type { BotEvent, MedplumClient } from '@medplum/core';
import { syncSubscription } from '../src/handlers/subscription';
import type { TargetResult } from '../src/handlers/target';

/** `customer.subscription.*` events, dispatched by stripe-router → the subscription's FHIR Account (subscription machine). */
export async function handler(medplum: MedplumClient, event: BotEvent): Promise<TargetResult> {
  return syncSubscription(medplum, event);
}
