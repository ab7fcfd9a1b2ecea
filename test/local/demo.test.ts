import type {
  Account,
  Invoice,
  Patient,
  PaymentNotice,
  PaymentReconciliation,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDemoStream, DEMO_PATIENT_ID } from '../../scripts/local/demo-stream';
import { DEMO_STREAM_PATH, readDemoStream, runDemo } from '../../scripts/local/demo';
import { TABLE_TYPES } from '../../scripts/local/table';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import type { StripeCheckoutSession, StripeCustomer, StripeSubscription } from '../../src/stripe/types';
import { comparableState, postEvent, readType, startServer, temporaryDirectory } from './helpers';

const TYPES = [...TABLE_TYPES, 'Communication'];
const CUSTOMER = 'cus_TDemoMargeSimpson';
const PATIENT: Reference<Patient> = { reference: `Patient/${DEMO_PATIENT_ID}` };

function byIdentifier<T extends Resource>(resources: readonly Resource[], type: string, value: string): T {
  const found = resources.filter(
    (r) =>
      r.resourceType === type && (r as { identifier?: { value?: string }[] }).identifier?.some((i) => i.value === value)
  );
  expect(found, `${type} ${value}`).toHaveLength(1);
  return found[0] as T;
}

/** The price codes of a subscription Account's item extensions (what is subscribed now). */
function itemPrices(account: Account): (string | undefined)[] {
  return (account.extension ?? [])
    .filter((e) => e.url === EXTENSION.subscriptionItem)
    .map((e) => e.extension?.find((x) => x.url === 'price')?.valueCoding?.code);
}

describe('npm run demo', () => {
  it('demo/stream.json is what the generator builds from the event builders (fixed seed)', () => {
    expect(JSON.parse(readFileSync(DEMO_STREAM_PATH, 'utf8'))).toEqual(JSON.parse(JSON.stringify(buildDemoStream())));
  });

  it('delivers the stream as Stripe would: shuffled, with redeliveries, concurrent waves', () => {
    const stream = readDemoStream();
    const delivered = stream.delivery.flat();
    const ids = stream.events.map((e) => e.id);
    expect(new Set(delivered)).toEqual(new Set(ids));
    expect(delivered.length).toBeGreaterThan(ids.length);
    expect(delivered.length).toBeLessThanOrEqual(35);
    expect(delivered.slice(0, ids.length)).not.toEqual(ids);
    expect(stream.delivery.some((wave) => wave.length > 1)).toBe(true);
    const families = new Set(stream.events.map((e) => e.type.split('.')[0]));
    expect([...families].sort()).toEqual([
      'charge',
      'checkout',
      'customer',
      'invoice',
      'invoice_payment',
      'payment_intent',
      'refund',
      'subscription_schedule',
    ]);
  });

  it('links the Patient and the customer only by metadata: the Patient carries no Stripe id before the stream', () => {
    const stream = readDemoStream();
    expect(stream.patients).toHaveLength(1);
    const patient = stream.patients[0] as Patient;
    expect(patient.id).toBe(DEMO_PATIENT_ID);
    expect(patient.identifier ?? []).toEqual([]);
    const customers = stream.events.filter((e) => e.type === 'customer.created');
    expect(customers).toHaveLength(1);
    expect((customers[0]?.data.object as StripeCustomer).metadata).toEqual({ medplum_patient_id: DEMO_PATIENT_ID });
    // The Payment Link purchase: a paid mode=payment session of the same customer, no Stripe invoice.
    const sessions = stream.events.filter((e) => e.type === 'checkout.session.completed');
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.data.object as StripeCheckoutSession).toMatchObject({
      mode: 'payment',
      payment_status: 'paid',
      invoice: null,
      customer: CUSTOMER,
      client_reference_id: DEMO_PATIENT_ID,
    });
    // The plain subscription: created, upgraded, set to cancel at period end, ended.
    const therapy = stream.events
      .filter((e) => e.type.startsWith('customer.subscription.'))
      .map((e) => ({ type: e.type, subscription: e.data.object as StripeSubscription }));
    expect(therapy.map((t) => [t.type, t.subscription.status, t.subscription.schedule])).toEqual([
      ['customer.subscription.created', 'active', null],
      ['customer.subscription.updated', 'active', null],
      ['customer.subscription.updated', 'active', null],
      ['customer.subscription.deleted', 'canceled', null],
    ]);
    const cancelRequest = therapy[2]?.subscription as StripeSubscription & { cancel_at_period_end?: boolean };
    expect(cancelRequest.cancel_at_period_end).toBe(true);
    expect(cancelRequest.cancel_at).toBe(therapy[3]?.subscription.ended_at);
  });

  it('ends in the state of its events delivered once each in chronological order', async () => {
    const output: string[] = [];
    const demo = await runDemo({ out: (line) => output.push(line) });
    expect(demo.exitCode).toBe(0);
    expect(demo.deliveries.map((d) => d.status)).toEqual(demo.deliveries.map(() => 200));
    const demoResources = TYPES.flatMap((type) => demo.resources[type] ?? []);

    // The same events, once each, in the order they happened, to a fresh store.
    const stream = readDemoStream();
    const reference = await startServer();
    for (const patient of stream.patients) {
      await reference.embedded.seed(patient);
    }
    for (const event of stream.events) {
      const answer = await postEvent(reference.routerUrl, event);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    }
    const chronological: Resource[] = [];
    for (const type of TYPES) {
      chronological.push(...(await readType(reference, type)));
    }
    // Every resource is the same, and so is every archived event, except for what each archive says
    // its event touched (`about`) and the target's note (`note`, e.g. "already shows a later event"),
    // which depend on arrival by nature: the schedule's start links the Invoices already stored, none
    // when it comes first, as it does in chronological order.
    const withoutAbout = (resources: readonly Resource[]) =>
      resources.map((r) => (r.resourceType === 'Communication' ? { ...r, about: undefined, note: undefined } : r));
    expect(comparableState(withoutAbout(demoResources))).toEqual(comparableState(withoutAbout(chronological)));
    expect(reference.embedded.repo.rejected).toEqual([]);

    // What the story says happened (design: fhir mapping, patient context).
    const patients = (demo.resources.Patient ?? []) as Patient[];
    expect(patients.map((p) => p.id)).toEqual([DEMO_PATIENT_ID]);
    // customer.created claimed the customer for the Patient its metadata names: the Patient now carries it.
    expect(patients[0]?.identifier).toContainEqual(
      expect.objectContaining({ system: STRIPE_SYSTEM.customer, value: CUSTOMER })
    );

    const billing = byIdentifier<Account>(demoResources, 'Account', CUSTOMER);
    expect(billing.subject).toEqual([PATIENT]);
    const therapy = byIdentifier<Account>(demoResources, 'Account', 'sub_1SDemoTherapy');
    expect(therapy.status).toBe('inactive');
    expect(itemPrices(therapy)).toEqual(['price_1SDemoTherapyPlus']);
    expect(therapy.partOf).toEqual({ reference: `Account/${billing.id}` });
    expect(therapy.subject).toEqual([PATIENT]);

    const schedule = byIdentifier<Account>(demoResources, 'Account', 'sub_sched_1SDemoCarePlan');
    expect(schedule.status).toBe('active');
    expect(schedule.subject).toEqual([PATIENT]);
    // Identifiers in canonical order (by system, then value): the subscription's before the schedule's.
    expect(schedule.identifier?.map((i) => i.system)).toEqual([
      STRIPE_SYSTEM.subscription,
      STRIPE_SYSTEM.subscriptionSchedule,
    ]);
    const month1 = byIdentifier<Invoice>(demoResources, 'Invoice', 'in_1SDemoMonth1');
    const month2 = byIdentifier<Invoice>(demoResources, 'Invoice', 'in_1SDemoMonth2');
    expect(month1).toMatchObject({ status: 'balanced', totalGross: { value: 150, currency: 'USD' } });
    expect(month2.status).toBe('issued');
    for (const invoice of [month1, month2]) {
      expect(invoice.account).toEqual({ reference: `Account/${schedule.id}` });
    }
    const therapyInvoice = byIdentifier<Invoice>(demoResources, 'Invoice', 'in_1SDemoTherapy1');
    expect(therapyInvoice).toMatchObject({ status: 'balanced', account: { reference: `Account/${therapy.id}` } });

    const payment = byIdentifier<PaymentReconciliation>(demoResources, 'PaymentReconciliation', 'pi_3SDemoMonth1');
    expect(payment).toMatchObject({ status: 'active', paymentAmount: { value: 150, currency: 'USD' } });
    expect(payment.detail?.[0]?.request).toMatchObject({ reference: `Invoice/${month1.id}` });
    const refund = byIdentifier<PaymentNotice>(demoResources, 'PaymentNotice', 're_3SDemoPartial');
    expect(refund).toMatchObject({ status: 'active', amount: { value: -50, currency: 'USD' } });

    // The Payment Link purchase: the session's own Invoice, balanced, and its payment pointing at it.
    const visit = byIdentifier<Invoice>(demoResources, 'Invoice', 'cs_live_a1SDemoVisit');
    expect(visit.identifier).toContainEqual({ system: STRIPE_SYSTEM.checkoutSession, value: 'cs_live_a1SDemoVisit' });
    expect(visit).toMatchObject({ status: 'balanced', subject: PATIENT, totalGross: { value: 75, currency: 'USD' } });
    const visitNotice = byIdentifier<PaymentNotice>(demoResources, 'PaymentNotice', 'pi_3SDemoVisit');
    expect(visitNotice).toMatchObject({
      amount: { value: 75, currency: 'USD' },
      request: { reference: `Invoice/${visit.id}` },
    });

    const invoices = (demo.resources.Invoice ?? []) as Invoice[];
    expect(invoices).toHaveLength(4);
    for (const invoice of invoices) {
      expect(invoice.subject, invoice.identifier?.[0]?.value).toEqual(PATIENT);
    }
    expect(demo.resources.Communication).toHaveLength(stream.events.length);

    // The table lists them, one row each, and the line that sums up what is linked to the Patient.
    const table = output.join('\n');
    for (const value of [
      'sub_sched_1SDemoCarePlan',
      'sub_1SDemoTherapy',
      'cs_live_a1SDemoVisit',
      'in_1SDemoMonth1',
      'in_1SDemoMonth2',
      'in_1SDemoTherapy1',
      'pi_3SDemoMonth1',
      'pi_3SDemoVisit',
      're_3SDemoPartial',
    ]) {
      expect(table).toContain(value);
    }
    expect(output).toContain(
      `Linked to Patient/${DEMO_PATIENT_ID.slice(0, 8)} (pointing at it, or at what points at it): ` +
        '3 Accounts, 4 Invoices, 3 PaymentReconciliations, 3 PaymentNotices; not linked: 1 Organization'
    );
    expect(table).toMatch(/Deliveries: .*duplicate/);
    expect(table).toMatch(/Payment page for the patient/);
    expect(table).not.toContain('undefined');
  });

  it('runs again on its kept store (--data): the Patient is not seeded twice, every redelivery changes nothing', async () => {
    const dataPath = join(temporaryDirectory(), 'demo.json');
    const first = await runDemo({ dataPath, out: () => undefined });
    expect(first.exitCode).toBe(0);
    const second = await runDemo({ dataPath, out: () => undefined });
    expect(second.exitCode).toBe(0);
    expect(second.resources.Patient?.map((p) => p.id)).toEqual([DEMO_PATIENT_ID]);
    // The stored Patient, with the customer id its claim gave it, was kept, not seeded over.
    expect((second.resources.Patient?.[0] as Patient).identifier).toContainEqual(
      expect.objectContaining({ system: STRIPE_SYSTEM.customer, value: CUSTOMER })
    );
    expect(second.deliveries.map((d) => (d.body as { outcome?: string }).outcome)).not.toContain('processed');
    const count = (result: typeof first) => TABLE_TYPES.map((type) => [type, result.resources[type]?.length]);
    expect(count(second)).toEqual(count(first));
  });
});
