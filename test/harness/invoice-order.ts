import { invoiceLifecycle, invoiceStage } from '../../src/fhir/invoice';
import { compareEvents } from '../../src/fhir/order';
import type { StripeEvent, StripeInvoice } from '../../src/stripe/types';

/** "Chronological" is the order key of docs/design.md, "Ordering, duplicates, concurrency", not arrival order or event id order. */
export function chronological(events: readonly StripeEvent<StripeInvoice>[]): StripeEvent<StripeInvoice>[] {
  const key = (e: StripeEvent<StripeInvoice>) => ({
    id: e.id,
    created: e.created,
    stage: invoiceStage(e.type, e.data.object) as string,
  });
  return [...events].sort((a, b) => compareEvents(key(a), key(b), invoiceLifecycle));
}
