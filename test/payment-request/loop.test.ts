/**
 * The whole loop: staff request a payment, the patient pays on Stripe's page, Stripe sends its
 * events, and the webhook path records the payment against the Patient's Invoice. The webhook side
 * of checkout sessions (the stripe-customer bot, routed `checkout.session.*`) is built apart from
 * the payment-request bot; until it is merged, these tests fail at the Invoice assertions (the
 * router ignores `checkout.session.completed`, so no session Invoice is written and no Invoice is
 * balanced), and only there: every delivery must still answer 200.
 */
import type { Invoice, PaymentNotice } from '@medplum/fhirtypes';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import { paidSessionEvents } from '../../lib/stripe-events/requested-payment';
import type { StripeEvent } from '../../src/stripe/types';
import type { FixtureShape } from '../../lib/stripe-events/fixtures';
import { createRequestProject, seedInvoice, useStripeFake, type RequestProject } from './helpers';

const stripe = useStripeFake({ beforeAll, afterAll, beforeEach });

/** The patient pays the session in the fake Stripe; Stripe then sends its two events, signed. */
async function payAndDeliver(
  project: RequestProject,
  sessionId: string,
  order: 'completed-first' | 'succeeded-first',
  shape: FixtureShape
) {
  const paid = stripe.current.pay(sessionId);
  const at = Math.floor(Date.now() / 1000);
  // Both payload shapes: Stripe's fixtures of the current API and of the one before 2025-03-31.
  const { completed, succeeded } = paidSessionEvents(paid, paid.paymentIntentMetadata, at, shape);
  const events: StripeEvent[] = order === 'completed-first' ? [completed, succeeded] : [succeeded, completed];
  for (const event of events) {
    const response = await project.deliver(event);
    expect(response.status, `${event.type}: ${JSON.stringify(response.body)}`).toBe(200);
  }
  return paid;
}

describe('request → pay → the Patient’s balanced Invoice and its payment', () => {
  it.each([
    { order: 'completed-first', shape: 'openapi' },
    { order: 'succeeded-first', shape: 'openapi-2025-02-24.acacia' },
  ] as const)(
    'an amount request: one session Invoice, balanced, and a PaymentNotice pointing at it ($order, $shape)',
    async ({ order, shape }) => {
      const project = await createRequestProject();
      const result = await project.requestOk({ patient: `Patient/${project.patient.id}`, amount: 6400 });
      await payAndDeliver(project, result.sessionId, order, shape);

      const invoices = await project.server.all<Invoice>('Invoice');
      expect(invoices).toHaveLength(1);
      const invoice = invoices[0] as Invoice;
      expect(invoice.identifier).toContainEqual({ system: STRIPE_SYSTEM.checkoutSession, value: result.sessionId });
      expect(invoice.subject).toEqual({ reference: `Patient/${project.patient.id}` });
      expect(invoice.status).toBe('balanced');
      expect(invoice.totalGross).toEqual({ value: 64, currency: 'USD' });

      const notices = await project.server.all<PaymentNotice>('PaymentNotice');
      expect(notices).toHaveLength(1);
      expect(notices[0]?.request).toMatchObject({ reference: `Invoice/${invoice.id}` });
      expect(notices[0]?.amount).toEqual({ value: 64, currency: 'USD' });
    }
  );

  it.each(['openapi', 'openapi-2025-02-24.acacia'] as const)(
    'an Invoice request: THAT Invoice balanced, no second Invoice, the notice pointing at it (%s)',
    async (shape) => {
      const project = await createRequestProject();
      const invoice = await seedInvoice(project, project.patient.id, { value: 150, currency: 'USD' });
      const result = await project.requestOk({
        patient: `Patient/${project.patient.id}`,
        invoice: `Invoice/${invoice.id}`,
      });
      await payAndDeliver(project, result.sessionId, 'completed-first', shape);

      const invoices = await project.server.all<Invoice>('Invoice');
      expect(invoices.map((i) => i.id)).toEqual([invoice.id]);
      expect(invoices[0]?.status).toBe('balanced');
      expect(invoices[0]?.subject).toEqual({ reference: `Patient/${project.patient.id}` });

      const notices = await project.server.all<PaymentNotice>('PaymentNotice');
      expect(notices).toHaveLength(1);
      expect(notices[0]?.request).toMatchObject({ reference: `Invoice/${invoice.id}` });
    }
  );
});
