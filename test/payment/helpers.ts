import type { WithId } from '@medplum/core';
import type { Invoice, PaymentNotice, PaymentReconciliation, Resource } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import type { TestProject } from '../harness/project';
import { buildInvoice, wrapEvent } from '../../lib/stripe-events/events';
import type { FhirTestServer } from '../../lib/embedded/fhir-server';

export interface Pair {
  readonly reconciliation: WithId<PaymentReconciliation>;
  readonly notice: WithId<PaymentNotice>;
}

/** Every PaymentReconciliation and PaymentNotice stored under `system|value`. */
export async function recordsOf(
  server: FhirTestServer,
  system: string,
  value: string
): Promise<{ reconciliations: WithId<PaymentReconciliation>[]; notices: WithId<PaymentNotice>[] }> {
  const has = (r: PaymentReconciliation | PaymentNotice): boolean =>
    (r.identifier ?? []).some((i) => i.system === system && i.value === value);
  return {
    reconciliations: (await server.all<PaymentReconciliation>('PaymentReconciliation')).filter(has),
    notices: (await server.all<PaymentNotice>('PaymentNotice')).filter(has),
  };
}

/** The one pair stored under `system|value`, checked to be one complete, consistent pair. */
export async function pairOf(server: FhirTestServer, system: string, value: string): Promise<Pair> {
  const { reconciliations, notices } = await recordsOf(server, system, value);
  expect(reconciliations, `reconciliations of ${value}`).toHaveLength(1);
  expect(notices, `notices of ${value}`).toHaveLength(1);
  const reconciliation = reconciliations[0] as WithId<PaymentReconciliation>;
  const notice = notices[0] as WithId<PaymentNotice>;
  expect(notice.payment).toEqual({ reference: `PaymentReconciliation/${reconciliation.id}` });
  expect(notice.status).toBe(reconciliation.status);
  expect(notice.amount).toEqual(reconciliation.paymentAmount);
  expect(notice.request).toEqual(reconciliation.detail?.[0]?.request);
  return { reconciliation, notice };
}

export function paymentPair(server: FhirTestServer, intentId: string): Promise<Pair> {
  return pairOf(server, STRIPE_SYSTEM.paymentIntent, intentId);
}

export function refundPair(server: FhirTestServer, refundId: string): Promise<Pair> {
  return pairOf(server, STRIPE_SYSTEM.refund, refundId);
}

/** Stores an Invoice through the router and the invoice bot, as Stripe's `invoice.paid` would. */
export async function storeInvoice(
  project: TestProject,
  invoiceId: string,
  at = 1_760_000_000
): Promise<WithId<Invoice>> {
  const response = await project.deliver(wrapEvent('invoice.paid', buildInvoice({ id: invoiceId }, 'paid', at)));
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  const invoice = (await project.server.all<Invoice>('Invoice')).find((i) =>
    i.identifier?.some((id) => id.system === STRIPE_SYSTEM.invoice && id.value === invoiceId)
  );
  expect(invoice).toBeDefined();
  return invoice as WithId<Invoice>;
}

/**
 * The payment records of a project with every reference `Type/id` replaced by the stored
 * resource's Stripe identifier, and without id and meta: comparable across projects.
 */
export async function comparableRecords(server: FhirTestServer): Promise<Record<string, unknown>> {
  const byReference = new Map<string, string>();
  const stored: Resource[] = [];
  for (const type of ['PaymentReconciliation', 'PaymentNotice', 'Invoice', 'Organization'] as const) {
    for (const resource of await server.all<Resource>(type)) {
      const identifier = (resource as { identifier?: { system?: string; value?: string }[] }).identifier?.[0];
      byReference.set(`${type}/${resource.id}`, `${type}|${identifier?.value ?? 'no-identifier'}`);
      if (type === 'PaymentReconciliation' || type === 'PaymentNotice') {
        stored.push(resource);
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const resource of stored) {
    const { id: _id, meta: _meta, ...content } = resource;
    const key = `${resource.resourceType}|${(resource as PaymentReconciliation).identifier?.[0]?.value}`;
    expect(out[key], `one ${key}`).toBeUndefined();
    out[key] = JSON.parse(
      JSON.stringify(content, (k, v: unknown) =>
        k === 'reference' && typeof v === 'string' ? (byReference.get(v) ?? `dangling ${v}`) : v
      )
    );
  }
  return out;
}
