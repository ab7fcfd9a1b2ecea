import type { Account, Invoice, PaymentNotice, PaymentReconciliation, Resource } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildDemoStream } from '../../scripts/local/demo-stream';
import { DEMO_STREAM_PATH, readDemoStream, runDemo } from '../../scripts/local/demo';
import { TABLE_TYPES } from '../../scripts/local/table';
import { STRIPE_SYSTEM } from '../../src/constants';
import { comparableState, postEvent, readType, startServer } from './helpers';

const TYPES = [...TABLE_TYPES, 'Communication'];

function byIdentifier<T extends Resource>(resources: readonly Resource[], type: string, value: string): T {
  const found = resources.filter(
    (r) =>
      r.resourceType === type && (r as { identifier?: { value?: string }[] }).identifier?.some((i) => i.value === value)
  );
  expect(found, `${type} ${value}`).toHaveLength(1);
  return found[0] as T;
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
    expect(delivered.slice(0, ids.length)).not.toEqual(ids);
    expect(stream.delivery.some((wave) => wave.length > 1)).toBe(true);
    const families = new Set(stream.events.map((e) => e.type.split('.')[0]));
    expect([...families].sort()).toEqual([
      'charge',
      'invoice',
      'invoice_payment',
      'payment_intent',
      'refund',
      'subscription_schedule',
    ]);
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

    // What the story says happened (design: fhir mapping).
    const account = byIdentifier<Account>(demoResources, 'Account', 'sub_sched_1SDemoCarePlan');
    expect(account.status).toBe('active');
    // Identifiers in canonical order (by system, then value): the subscription's before the schedule's.
    expect(account.identifier?.map((i) => i.system)).toEqual([
      STRIPE_SYSTEM.subscription,
      STRIPE_SYSTEM.subscriptionSchedule,
    ]);
    const month1 = byIdentifier<Invoice>(demoResources, 'Invoice', 'in_1SDemoMonth1');
    const month2 = byIdentifier<Invoice>(demoResources, 'Invoice', 'in_1SDemoMonth2');
    expect(month1).toMatchObject({ status: 'balanced', totalGross: { value: 150, currency: 'USD' } });
    expect(month2.status).toBe('issued');
    for (const invoice of [month1, month2]) {
      expect(invoice.account).toEqual({ reference: `Account/${account.id}` });
    }
    const payment = byIdentifier<PaymentReconciliation>(demoResources, 'PaymentReconciliation', 'pi_3SDemoMonth1');
    expect(payment).toMatchObject({ status: 'active', paymentAmount: { value: 150, currency: 'USD' } });
    expect(payment.detail?.[0]?.request).toMatchObject({ reference: `Invoice/${month1.id}` });
    const refund = byIdentifier<PaymentNotice>(demoResources, 'PaymentNotice', 're_3SDemoPartial');
    expect(refund).toMatchObject({ status: 'active', amount: { value: -50, currency: 'USD' } });
    expect(demo.resources.Communication).toHaveLength(stream.events.length);

    // The table lists them, one row each.
    const table = output.join('\n');
    for (const value of [
      'sub_sched_1SDemoCarePlan',
      'in_1SDemoMonth1',
      'in_1SDemoMonth2',
      'pi_3SDemoMonth1',
      're_3SDemoPartial',
    ]) {
      expect(table).toContain(value);
    }
    expect(table).toMatch(/Deliveries: .*duplicate/);
    expect(table).not.toContain('undefined');
  });
});
