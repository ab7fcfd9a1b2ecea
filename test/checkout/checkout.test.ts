import type { Account, Invoice, PaymentNotice } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BOT_NAME, PATIENT_BILLING_ACCOUNT_SYSTEM, STRIPE_SYSTEM } from '../../src/constants';
import { createTestProject, CUSTOMER_ID, type TestProject } from '../harness/project';
import { sessionEvent, type SessionVariant } from '../../lib/stripe-events/customer';
import { buildPaymentIntent, invoiceLifecycleEvents, wrapShapedEvent } from '../../lib/stripe-events/events';
import type { FixtureShape } from '../../lib/stripe-events/fixtures';
import { archiveOf, billingAccount, customerIds, readPatient, seedPatient, subjectSource } from '../customer/helpers';
import { pairOf } from '../payment/helpers';

const SHAPES: readonly FixtureShape[] = ['openapi', 'openapi-2025-02-24.acacia'];
const T = 1_760_000_000;

async function sessionInvoices(project: TestProject, sessionId: string): Promise<Invoice[]> {
  return (await project.server.all<Invoice>('Invoice')).filter((i) =>
    (i.identifier ?? []).some((id) => id.system === STRIPE_SYSTEM.checkoutSession && id.value === sessionId)
  );
}

async function onlySessionInvoice(project: TestProject, sessionId: string): Promise<Invoice> {
  const invoices = await sessionInvoices(project, sessionId);
  expect(invoices).toHaveLength(1);
  return invoices[0] as Invoice;
}

function paymentSucceeded(
  id: string,
  shape: FixtureShape,
  options: { customer?: string; metadata?: Record<string, string>; amount?: number } = {}
) {
  return wrapShapedEvent(
    'payment_intent.succeeded',
    buildPaymentIntent(
      {
        id,
        shape,
        amount: options.amount ?? 5000,
        ...(options.customer !== undefined && { customer: options.customer }),
        ...(options.metadata && { metadata: options.metadata }),
      },
      'succeeded',
      T + 50
    ),
    shape,
    { created: T + 50 }
  );
}

describe.each(SHAPES)('Payment Link / Checkout sessions (%s)', (shape) => {
  it('a paid Payment Link session with client_reference_id → one balanced Invoice for that Patient; no claim', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const variant: SessionVariant = {
      id: 'cs_test_1Link',
      shape,
      customer: 'cus_1Buyer',
      clientReferenceId: ned.id,
      paymentLink: 'plink_1Consult',
      amount: 12345,
      tax: 345,
    };
    const { status, result } = await project.deliver(sessionEvent(variant, 'paid'));
    expect(status).toBe(200);
    expect(result).toMatchObject({ outcome: 'processed', target: BOT_NAME.customer });
    const invoice = await onlySessionInvoice(project, 'cs_test_1Link');
    const account = await billingAccount(project, 'cus_1Buyer');
    expect(invoice).toMatchObject<Partial<Invoice>>({
      status: 'balanced',
      subject: { reference: `Patient/${ned.id}` },
      recipient: { reference: `Patient/${ned.id}` },
      account: { reference: `Account/${account.id}` },
      issuer: { reference: `Organization/${project.payee.id}` },
      totalGross: { value: 123.45, currency: 'USD' },
      totalNet: { value: 120, currency: 'USD' },
    });
    expect(invoice.lineItem).toEqual([
      {
        sequence: 1,
        chargeItemCodeableConcept: { text: 'Stripe Payment Link plink_1Consult' },
        priceComponent: [{ type: 'base', amount: { value: 123.45, currency: 'USD' } }],
      },
    ]);
    expect(invoice.meta?.tag).toEqual([
      { system: STRIPE_SYSTEM.customer, code: 'cus_1Buyer' },
      { system: STRIPE_SYSTEM.paymentIntent, code: 'pi_test_1Link' },
    ]);
    expect(subjectSource(invoice)).toBe('client-reference');
    // client_reference_id never claims the customer.
    expect(account.subject).toBeUndefined();
    expect(customerIds(await readPatient(project, ned.id))).toEqual([]);
    expect(project.server.repo.rejected).toEqual([]);
  });

  it('exact money by currency exponent (JPY, KWD)', async () => {
    const project = await createTestProject();
    await project.deliver(sessionEvent({ id: 'cs_test_1Yen', shape, currency: 'jpy', amount: 5000, tax: 455 }, 'paid'));
    await project.deliver(sessionEvent({ id: 'cs_test_1Kwd', shape, currency: 'kwd', amount: 12345, tax: 5 }, 'paid'));
    expect((await onlySessionInvoice(project, 'cs_test_1Yen')).totalNet).toEqual({ value: 4545, currency: 'JPY' });
    expect((await onlySessionInvoice(project, 'cs_test_1Kwd')).totalGross).toEqual({ value: 12.345, currency: 'KWD' });
    expect((await onlySessionInvoice(project, 'cs_test_1Kwd')).totalNet).toEqual({ value: 12.34, currency: 'KWD' });
  });

  it('async payment: issued while pending, balanced when it succeeds, cancelled when it fails; both terminal', async () => {
    const project = await createTestProject();
    const pending = { id: 'cs_test_1Async', shape };
    await project.deliver(sessionEvent(pending, 'pending', { created: T + 10 }));
    expect((await onlySessionInvoice(project, 'cs_test_1Async')).status).toBe('issued');
    await project.deliver(
      sessionEvent(pending, 'paid', { created: T + 20, type: 'checkout.session.async_payment_succeeded' })
    );
    expect((await onlySessionInvoice(project, 'cs_test_1Async')).status).toBe('balanced');
    // A late completed (pending) changes nothing.
    await project.deliver(sessionEvent(pending, 'pending', { created: T + 30 }));
    expect((await onlySessionInvoice(project, 'cs_test_1Async')).status).toBe('balanced');

    const failing = { id: 'cs_test_1Fails', shape };
    await project.deliver(sessionEvent(failing, 'failed', { created: T + 20 }));
    await project.deliver(sessionEvent(failing, 'pending', { created: T + 10 }));
    const failed = await onlySessionInvoice(project, 'cs_test_1Fails');
    expect(failed.status).toBe('cancelled');
    expect(failed.cancelledReason).toMatch(/failed/);
  });

  it('no_payment_required ends balanced', async () => {
    const project = await createTestProject();
    await project.deliver(sessionEvent({ id: 'cs_test_1Free', shape, amount: 0 }, 'no_payment_required'));
    expect((await onlySessionInvoice(project, 'cs_test_1Free')).status).toBe('balanced');
  });

  it('an expired (abandoned) session writes nothing but the archive', async () => {
    const project = await createTestProject();
    const event = sessionEvent({ id: 'cs_test_1Gone', shape }, 'expired');
    const { result } = await project.deliver(event);
    expect(result.outcome).toBe('ignored');
    expect(result.reason).toMatch(/abandoned/);
    expect(await project.server.all<Invoice>('Invoice')).toEqual([]);
    expect(await project.server.all<Account>('Account')).toEqual([]);
    expect((await archiveOf(project, event.id)).status).toBe('completed');
  });

  it('mode=setup and an unknown mode write nothing, with a reason', async () => {
    const project = await createTestProject();
    const setup = await project.deliver(sessionEvent({ id: 'cs_test_1Setup', shape, mode: 'setup' }, 'paid'));
    expect(setup.result.outcome).toBe('ignored');
    expect(setup.result.reason).toMatch(/mode=setup/);
    const odd = sessionEvent({ id: 'cs_test_1Odd', shape }, 'paid');
    const other = await project.deliver({ ...odd, data: { object: { ...odd.data.object, mode: 'donation' } } });
    expect(other.result.outcome).toBe('ignored');
    expect(other.result.reason).toMatch(/"donation"/);
    expect(await project.server.all<Invoice>('Invoice')).toEqual([]);
  });

  it('a malformed session (no amount) is an error with no partial write', async () => {
    const project = await createTestProject();
    const event = sessionEvent({ id: 'cs_test_1Broken', shape }, 'paid');
    const broken = { ...event, data: { object: { ...event.data.object, amount_total: null } } };
    const response = await project.deliver(broken);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(await project.server.all<Invoice>('Invoice')).toEqual([]);
    expect(await project.server.all<Account>('Account')).toEqual([]);
  });

  it('a session that created a Stripe invoice links that Invoice instead of writing one', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const [finalized] = invoiceLifecycleEvents({ id: 'in_1FromSession', customer: 'cus_1Stranger', shape }, 'paid');
    await project.deliver(finalized!);
    await project.deliver(
      sessionEvent(
        {
          id: 'cs_test_1WithInvoice',
          shape,
          customer: 'cus_1Stranger',
          invoice: 'in_1FromSession',
          clientReferenceId: ned.id,
        },
        'paid'
      )
    );
    expect(await sessionInvoices(project, 'cs_test_1WithInvoice')).toEqual([]);
    const invoices = await project.server.all<Invoice>('Invoice');
    expect(invoices).toHaveLength(1);
    expect(invoices[0]?.subject).toEqual({ reference: `Patient/${ned.id}` });
    expect(subjectSource(invoices[0] as Invoice)).toBe('client-reference');
  });

  it('the payment points at the session Invoice whichever arrives first', async () => {
    for (const order of ['session-first', 'payment-first'] as const) {
      const project = await createTestProject();
      const session = sessionEvent({ id: 'cs_test_1Pays', shape, paymentIntent: 'pi_1SessionPays' }, 'paid');
      const payment = paymentSucceeded('pi_1SessionPays', shape);
      for (const event of order === 'session-first' ? [session, payment] : [payment, session]) {
        expect((await project.deliver(event)).status).toBe(200);
      }
      const invoice = await onlySessionInvoice(project, 'cs_test_1Pays');
      const { notice, reconciliation } = await pairOf(project.server, STRIPE_SYSTEM.paymentIntent, 'pi_1SessionPays');
      expect(notice.request?.reference, order).toBe(`Invoice/${invoice.id}`);
      expect(reconciliation.detail?.[0]?.request?.reference).toBe(`Invoice/${invoice.id}`);
    }
  });
});

describe('client_reference_id is buyer-editable', () => {
  it('any string a Payment Link URL can carry that is no Patient id counts as absent (processed with the reason)', async () => {
    const project = await createTestProject();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.constantFrom('', ' ', '../Patient', 'Patient/', 'Patient/nope', 'a'.repeat(200), '💳')
        ),
        async (reference) => {
          n++;
          const id = `cs_test_1Junk${n}`;
          const { result } = await project.deliver(sessionEvent({ id, clientReferenceId: reference }, 'paid'));
          expect(result.outcome).toBe('processed');
          const invoice = await onlySessionInvoice(project, id);
          if (reference) {
            expect(result.reason).toMatch(/client_reference_id/);
          }
          // The customer's Patient (the harness Patient carries cus_TestPatient1) is the subject instead.
          expect(invoice.subject).toEqual({ reference: `Patient/${project.patient.id}` });
          expect(subjectSource(invoice)).toBe('customer');
        }
      ),
      { numRuns: 25 }
    );
    expect(project.server.repo.rejected).toEqual([]);
  });
});

describe('payment requests (metadata.medplum_invoice_id)', () => {
  async function requested(project: TestProject, totalCents: number): Promise<Invoice & { id: string }> {
    return project.server.seed<Invoice>({
      resourceType: 'Invoice',
      status: 'issued',
      subject: { reference: `Patient/${project.patient.id}` },
      totalGross: { value: totalCents / 100, currency: 'USD' },
    });
  }

  it('a paid session settles the requested Invoice instead of writing another, and its payment points there', async () => {
    const project = await createTestProject();
    const invoice = await requested(project, 5000);
    const metadata = { medplum_patient_id: project.patient.id, medplum_invoice_id: invoice.id };
    await project.deliver(paymentSucceeded('pi_1Requested', 'openapi', { customer: CUSTOMER_ID, metadata }));
    await project.deliver(
      sessionEvent(
        { id: 'cs_test_1Requested', clientReferenceId: project.patient.id, metadata, paymentIntent: 'pi_1Requested' },
        'paid'
      )
    );
    const invoices = await project.server.all<Invoice>('Invoice');
    expect(invoices).toHaveLength(1);
    expect(invoices[0]?.status).toBe('balanced');
    const { notice } = await pairOf(project.server, STRIPE_SYSTEM.paymentIntent, 'pi_1Requested');
    expect(notice.request?.reference).toBe(`Invoice/${invoice.id}`);
  });

  it('a payment intent whose metadata names the Invoice points its notice there, before any session event', async () => {
    const project = await createTestProject();
    const invoice = await requested(project, 5000);
    await project.deliver(
      paymentSucceeded('pi_1RequestedAlone', 'openapi-2025-02-24.acacia', {
        customer: CUSTOMER_ID,
        metadata: { medplum_patient_id: project.patient.id, medplum_invoice_id: invoice.id },
      })
    );
    const { notice, reconciliation } = await pairOf(project.server, STRIPE_SYSTEM.paymentIntent, 'pi_1RequestedAlone');
    expect(notice.request?.reference).toBe(`Invoice/${invoice.id}`);
    expect(reconciliation.detail?.[0]?.request?.reference).toBe(`Invoice/${invoice.id}`);
  });

  it('a different amount leaves the Invoice issued with the difference noted', async () => {
    const project = await createTestProject();
    const invoice = await requested(project, 5000);
    const { result } = await project.deliver(
      sessionEvent({ id: 'cs_test_1Short', metadata: { medplum_invoice_id: invoice.id }, amount: 4000 }, 'paid')
    );
    const stored = (await project.server.all<Invoice>('Invoice'))[0] as Invoice;
    expect(stored.status).toBe('issued');
    expect(stored.note?.[0]?.text).toMatch(/paid 40 USD.*totalGross is 50 USD \(difference -10\)/);
    expect(result.reason).toMatch(/difference -10/);
  });
});

describe('payments without a stored Invoice', () => {
  it('a payment naming no invoice points at the customer’s billing Account, upgraded to the session Invoice later', async () => {
    const project = await createTestProject();
    await project.deliver(paymentSucceeded('pi_1Upgrade', 'openapi', { customer: 'cus_1Payer' }));
    const account = await billingAccount(project, 'cus_1Payer');
    let pair = await pairOf(project.server, STRIPE_SYSTEM.paymentIntent, 'pi_1Upgrade');
    expect(pair.notice.request).toEqual({ reference: `Account/${account.id}`, type: 'Account' });
    await project.deliver(
      sessionEvent({ id: 'cs_test_1Upgrade', customer: 'cus_1Payer', paymentIntent: 'pi_1Upgrade' }, 'paid')
    );
    const invoice = await onlySessionInvoice(project, 'cs_test_1Upgrade');
    pair = await pairOf(project.server, STRIPE_SYSTEM.paymentIntent, 'pi_1Upgrade');
    expect(pair.notice.request?.reference).toBe(`Invoice/${invoice.id}`);
    // Never downgraded: a redelivered payment keeps the Invoice.
    await project.replay(paymentSucceeded('pi_1Upgrade', 'openapi', { customer: 'cus_1Payer' }));
    pair = await pairOf(project.server, STRIPE_SYSTEM.paymentIntent, 'pi_1Upgrade');
    expect(pair.notice.request?.reference).toBe(`Invoice/${invoice.id}`);
  });

  it('without a customer, it points at the billing Account of the Patient its metadata names', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const event = paymentSucceeded('pi_1Guest', 'openapi', { metadata: { medplum_patient_id: ned.id } });
    const guest = { ...event, data: { object: { ...event.data.object, customer: null } } };
    await project.deliver(guest);
    const accounts = (await project.server.all<Account>('Account')).filter((a) =>
      a.identifier?.some((i) => i.system === PATIENT_BILLING_ACCOUNT_SYSTEM && i.value === ned.id)
    );
    expect(accounts).toHaveLength(1);
    expect(accounts[0]?.subject).toEqual([{ reference: `Patient/${ned.id}` }]);
    const { notice } = await pairOf(project.server, STRIPE_SYSTEM.paymentIntent, 'pi_1Guest');
    expect(notice.request).toEqual({ reference: `Account/${accounts[0]?.id}`, type: 'Account' });
    expect(project.server.repo.rejected).toEqual([]);
  });
});

describe('mode=subscription', () => {
  it('the session gives the subscription’s Account its Patient (created unknown when first), and so its Invoices', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const [invoiceEvent] = invoiceLifecycleEvents(
      { id: 'in_1SubFirst', customer: 'cus_1Subscriber', subscription: 'sub_1ViaLink' },
      'paid'
    );
    await project.deliver(invoiceEvent!);
    await project.deliver(
      sessionEvent(
        {
          id: 'cs_test_1Sub',
          mode: 'subscription',
          customer: 'cus_1Subscriber',
          subscription: 'sub_1ViaLink',
          clientReferenceId: ned.id,
        },
        'paid'
      )
    );
    const accounts = (await project.server.all<Account>('Account')).filter((a) =>
      a.identifier?.some((i) => i.system === STRIPE_SYSTEM.subscription)
    );
    expect(accounts).toHaveLength(1);
    const account = accounts[0] as Account;
    const billing = await billingAccount(project, 'cus_1Subscriber');
    expect(account).toMatchObject<Partial<Account>>({
      status: 'unknown',
      identifier: [{ system: STRIPE_SYSTEM.subscription, value: 'sub_1ViaLink' }],
      subject: [{ reference: `Patient/${ned.id}` }],
      partOf: { reference: `Account/${billing.id}` },
    });
    expect(account.extension?.some((e) => e.url.endsWith('last-applied-event'))).toBe(false);
    expect(await sessionInvoices(project, 'cs_test_1Sub')).toEqual([]);
    const invoice = (await project.server.all<Invoice>('Invoice'))[0] as Invoice;
    expect(invoice.subject).toEqual({ reference: `Patient/${ned.id}` });
    expect(subjectSource(invoice)).toBe('subscription');
    // A later invoice of the subscription takes the subscription Account's subject, and only that Account.
    const [next] = invoiceLifecycleEvents(
      { id: 'in_1SubNext', customer: 'cus_1Subscriber', subscription: 'sub_1ViaLink' },
      'paid'
    );
    await project.deliver(next!);
    const later = (await project.server.all<Invoice>('Invoice')).find(
      (i) => i.identifier?.[0]?.value === 'in_1SubNext'
    );
    expect(later?.subject).toEqual({ reference: `Patient/${ned.id}` });
    expect(later?.account).toEqual({ reference: `Account/${account.id}` });
    expect(billing.subject).toBeUndefined();
  });
});

describe('finding a patient’s money (two-step lookups: the in-memory store has no chained search)', () => {
  it('Invoice?subject, Account?subject, then PaymentNotice?request for those Invoices and Accounts', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const { customerEvent } = await import('../../lib/stripe-events/customer');
    await project.deliver(
      customerEvent('customer.created', { id: 'cus_1Money', metadata: { medplum_patient_id: ned.id } })
    );
    await project.deliver(
      sessionEvent({ id: 'cs_test_1Money', customer: 'cus_1Money', paymentIntent: 'pi_1Money' }, 'paid')
    );
    await project.deliver(paymentSucceeded('pi_1Money', 'openapi', { customer: 'cus_1Money' }));
    await project.deliver(paymentSucceeded('pi_1MoneyLoose', 'openapi', { customer: 'cus_1Money' }));

    const medplum = project.server.client();
    const patient = `Patient/${ned.id}`;
    const invoices = await medplum.searchResources('Invoice', `subject=${patient}`);
    const accounts = await medplum.searchResources('Account', `subject=${patient}`);
    expect(invoices).toHaveLength(1);
    expect(accounts).toHaveLength(1);
    const requests = [...invoices, ...accounts].map((r) => `${r.resourceType}/${r.id}`).join(',');
    const notices = await medplum.searchResources('PaymentNotice', `request=${requests}`);
    expect(notices.map((n: PaymentNotice) => n.identifier?.[0]?.value).sort()).toEqual(['pi_1Money', 'pi_1MoneyLoose']);
  });
});
