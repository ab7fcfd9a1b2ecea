import type { BotEvent, MedplumClient } from '@medplum/core';
import { syncInvoice } from '../src/handlers/invoice';
import type { TargetResult } from '../src/handlers/target';

/** `invoice.*` events, dispatched by stripe-router → FHIR Invoice. */
export async function handler(medplum: MedplumClient, event: BotEvent): Promise<TargetResult> {
  return syncInvoice(medplum, event);
}
