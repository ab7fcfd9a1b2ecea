import type { MedplumClient, WithId } from '@medplum/core';
import type { PaymentNotice, PaymentReconciliation } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
import {
  mergeInvoiceLinks,
  readInvoiceLink,
  sameInvoiceLink,
  withInvoiceLink,
  type InvoiceLink,
} from '../fhir/payment-link';
import { retryOnConflict } from '../fhir/retry';
import { identifierQuery } from '../fhir/upsert';

/**
 * Points a stored payment pair (reconciliation, then notice) of a payment intent at `link` when that
 * improves what it knows (an Invoice beats an Account; a known Invoice is never replaced). Each
 * update If-Match; returns the references it wrote. Nothing when the payment is not stored yet: the
 * payment bot then finds the Invoice itself.
 */
export async function repointPayment(medplum: MedplumClient, intentId: string, link: InvoiceLink): Promise<string[]> {
  const query = identifierQuery({ system: STRIPE_SYSTEM.paymentIntent, value: intentId });
  const written: string[] = [];
  for (const resourceType of ['PaymentReconciliation', 'PaymentNotice'] as const) {
    const wrote = await retryOnConflict(async () => {
      const stored = (await medplum.searchOne(resourceType, query, { cache: 'no-cache' })) as
        WithId<PaymentReconciliation | PaymentNotice> | undefined;
      if (!stored) {
        return undefined;
      }
      const current = readInvoiceLink(stored);
      const merged = mergeInvoiceLinks(current, link);
      if (sameInvoiceLink(current, merged)) {
        return undefined;
      }
      await medplum.updateResource(
        { ...withInvoiceLink(stored, merged), id: stored.id },
        { headers: { 'If-Match': `W/"${stored.meta?.versionId}"` } }
      );
      return `${resourceType}/${stored.id}`;
    });
    if (wrote) {
      written.push(wrote);
    }
  }
  return written;
}
