import type { Communication, Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import { createTestProject } from '../harness/project';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';

describe('router + invoice bot, end to end', () => {
  it('turns a paid lifecycle into one balanced Invoice and archives each event', async () => {
    const project = await createTestProject();
    const events = invoiceLifecycleEvents({ id: 'in_1TestE2E' }, 'paid');
    for (const event of events) {
      const response = await project.deliver(event);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.result).toMatchObject({
        eventId: event.id,
        type: event.type,
        outcome: 'processed',
        target: 'stripe-invoice',
      });
    }
    const invoices = await project.server.all<Invoice>('Invoice');
    expect(invoices).toHaveLength(1);
    const invoice = invoices[0] as Invoice;
    expect(invoice.status).toBe('balanced');
    expect(invoice.identifier).toEqual([{ system: STRIPE_SYSTEM.invoice, value: 'in_1TestE2E' }]);
    expect(invoice.subject).toEqual({ reference: `Patient/${project.patient.id}` });
    expect(invoice.issuer).toEqual({ reference: `Organization/${project.payee.id}` });
    expect(invoice.totalGross).toEqual({ value: 50, currency: 'USD' });
    const archives = await project.server.all<Communication>('Communication');
    expect(archives).toHaveLength(events.length);
    expect(archives.every((a) => a.status === 'completed')).toBe(true);
    expect(archives[0]?.about).toEqual([{ reference: `Invoice/${invoice.id}` }]);
  });
});
