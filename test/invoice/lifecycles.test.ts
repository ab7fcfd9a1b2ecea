import type { Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import { createTestProject } from '../harness/project';
import { invoiceLifecycleEvents, type InvoiceLifecycle } from '../../lib/stripe-events/events';

function stripeStatusOf(invoice: Invoice): string | undefined {
  return invoice.extension?.find((e) => e.url === EXTENSION.stripeStatus)?.valueCode;
}

describe('invoice lifecycles through the router', () => {
  it.each([
    ['paid', 'balanced', 'paid'],
    ['voided', 'cancelled', 'void'],
    ['uncollectible-then-paid', 'balanced', 'paid'],
    ['deleted', 'entered-in-error', 'deleted'],
  ] as const)('%s ends %s', async (lifecycle: InvoiceLifecycle, status, stripeStatus) => {
    const project = await createTestProject();
    const events = invoiceLifecycleEvents({ id: `in_1Life${lifecycle.length}` }, lifecycle);
    const seen: string[] = [];
    for (const event of events) {
      const { status: http, result } = await project.deliver(event);
      expect(http).toBe(200);
      expect(result.outcome).toBe('processed');
      const [invoice] = await project.server.all<Invoice>('Invoice');
      seen.push(`${invoice?.status}/${stripeStatusOf(invoice as Invoice)}`);
    }
    const invoices = await project.server.all<Invoice>('Invoice');
    expect(invoices).toHaveLength(1);
    expect(invoices[0]?.status).toBe(status);
    expect(stripeStatusOf(invoices[0] as Invoice)).toBe(stripeStatus);
    expect(seen[0]).toBe('draft/draft');
    expect(project.server.repo.rejected).toEqual([]);
  });

  it('shows uncollectible as issued with the Stripe status kept', async () => {
    const project = await createTestProject();
    const events = invoiceLifecycleEvents({ id: 'in_1Uncollectible' }, 'uncollectible-then-paid').slice(0, 4);
    for (const event of events) {
      await project.deliver(event);
    }
    const [invoice] = await project.server.all<Invoice>('Invoice');
    expect(invoice?.status).toBe('issued');
    expect(stripeStatusOf(invoice as Invoice)).toBe('uncollectible');
  });

  it('upgrades an Invoice written by Medplum’s Stripe sample instead of duplicating it', async () => {
    const project = await createTestProject();
    // The sample writes the same identifier system but no last-applied-event marker.
    const legacy = await project.server.seed<Invoice>({
      resourceType: 'Invoice',
      status: 'balanced',
      identifier: [{ system: STRIPE_SYSTEM.invoice, value: 'in_1Legacy' }],
    });
    const [created] = invoiceLifecycleEvents({ id: 'in_1Legacy' }, 'paid');
    await project.deliver(created);
    const invoices = await project.server.all<Invoice>('Invoice');
    expect(invoices.map((i) => i.id)).toEqual([legacy.id]);
    // Unmarked counts as older than any event, so even a draft event applies.
    expect(invoices[0]?.status).toBe('draft');
    expect(invoices[0]?.subject).toEqual({ reference: `Patient/${project.patient.id}` });
  });

  it('links the Patient named by metadata.medplum_patient_id when no Patient has the customer id', async () => {
    const project = await createTestProject();
    const [event] = invoiceLifecycleEvents(
      { id: 'in_1Meta', customer: 'cus_Unknown', metadata: { medplum_patient_id: project.patient.id } },
      'paid'
    );
    await project.deliver(event);
    const [invoice] = await project.server.all<Invoice>('Invoice');
    expect(invoice?.subject).toEqual({ reference: `Patient/${project.patient.id}` });
  });

  it('stores an Invoice without subject when no Patient is found, and creates no Patient', async () => {
    const project = await createTestProject();
    const [event] = invoiceLifecycleEvents({ id: 'in_1Orphan', customer: 'cus_Nobody' }, 'paid');
    const { status } = await project.deliver(event);
    expect(status).toBe(200);
    const [invoice] = await project.server.all<Invoice>('Invoice');
    expect(invoice?.subject).toBeUndefined();
    expect(await project.server.all('Patient')).toHaveLength(1);
  });

  it('leaves issuer out when no payee Organization is configured', async () => {
    const project = await createTestProject({ withPayee: false });
    const [event] = invoiceLifecycleEvents({ id: 'in_1NoPayee' }, 'paid');
    await project.deliver(event);
    const [invoice] = await project.server.all<Invoice>('Invoice');
    expect(invoice?.issuer).toBeUndefined();
    expect(invoice?.status).toBe('draft');
  });
});
