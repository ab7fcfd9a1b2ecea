import type { WithId } from '@medplum/core';
import type { Account, Invoice, PaymentReconciliation } from '@medplum/fhirtypes';
import { setupServer } from 'msw/node';
import { readFileSync } from 'node:fs';
import type Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runReconcile, remainingFindings, type ReconcileOptions } from '../../scripts/ops/reconcile';
import { createRateLimitedStripe } from '../../scripts/ops/stripe-client';
import { STRIPE_SYSTEM } from '../../src/constants';
import type { StripeEvent, StripeInvoice } from '../../src/stripe/types';
import {
  buildCharge,
  buildInvoice,
  buildPaymentIntent,
  buildRefund,
  invoiceLifecycleEvents,
  wrapEvent,
} from '../../lib/stripe-events/events';
import { loadStripeFixture } from '../../lib/stripe-events/fixtures';
import { recordingSleep } from './helpers';
import { afterExecutes, operatorProject, silentProgress, type OperatorProject } from './operator-project';
import { StripeFake } from './stripe-fake';

const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterEach(() => msw.resetHandlers());
afterAll(() => msw.close());

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;
const since = new Date((NOW - 60 * DAY) * 1000);

let ops: OperatorProject;
let stripe: StripeFake;
let waits: number[];
let sleep: (ms: number) => Promise<void>;

/**
 * A Stripe account and the project that mirrors it, with three things wrong:
 * - in_1Stale (pre-2025-03-31 shape): Stripe says paid; its `invoice.paid` (and `invoice.payment_succeeded`) never reached
 *   the router, so the Invoice is still `issued` (Stripe still has those events: backfill fixes it);
 * - in_1Old (pre-2025-03-31 shape): paid 40 days ago, and no event of it reached the router; Stripe no longer keeps its
 *   events, so the Invoice is missing (only a rebuild from the object fixes it);
 * - pi_1Edited: delivered, but its PaymentReconciliation's amount was edited by hand in Medplum
 *   (replaying its archive changes nothing, since the bot already applied that event: a rebuild
 *   fixes it).
 * And two that are right: in_1Fine (paid) and re_1Fine (a succeeded refund of pi_1Edited), plus
 * 120 payment intents that never succeeded (not mapped; they make the intents list two pages).
 */
async function account(): Promise<void> {
  const deliver = async (events: readonly StripeEvent[], reachesRouter = true) => {
    for (const event of events) {
      stripe.addEvent(event as unknown as Stripe.Event, reachesRouter);
      if (reachesRouter) {
        expect((await ops.project.deliver(event)).status, event.type).toBe(200);
      }
    }
  };
  const list = (events: readonly StripeEvent<StripeInvoice>[]) =>
    events[events.length - 1]?.data.object as StripeInvoice;

  const fine = invoiceLifecycleEvents({ id: 'in_1Fine' }, 'paid', { start: NOW - 10 * DAY });
  await deliver(fine);
  stripe.addObject('/v1/invoices', list(fine) as never);

  // The pre-2025-03-31 payload shape (an endpoint pinned to an older API version).
  const stale = invoiceLifecycleEvents({ id: 'in_1Stale', amount: 7300, shape: 'openapi-2025-02-24.acacia' }, 'paid', {
    start: NOW - 5 * DAY,
  });
  const paidAt = stale.findIndex((e) => e.data.object.status === 'paid');
  await deliver(stale.slice(0, paidAt));
  await deliver(stale.slice(paidAt), false);
  stripe.addObject('/v1/invoices', list(stale) as never);

  // Older than Stripe's 30 days of events: only the object is left.
  stripe.addObject(
    '/v1/invoices',
    buildInvoice({ id: 'in_1Old', amount: 12_000, shape: 'openapi-2025-02-24.acacia' }, 'paid', NOW - 40 * DAY) as never
  );

  const intent = buildPaymentIntent({ id: 'pi_1Edited', amount: 4200 }, 'succeeded', NOW - 3 * DAY);
  await deliver([wrapEvent('payment_intent.succeeded', intent, { created: NOW - 3 * DAY })]);
  // Listed as reconcile asks for it: the latest charge expanded (`expand[]=data.latest_charge`).
  const charge = buildCharge({ id: 'pi_1Edited', amount: 4200 }, NOW - 3 * DAY - 60, [], { includeRefunds: false });
  stripe.addObject('/v1/payment_intents', { ...intent, latest_charge: charge } as never);
  const refund = buildRefund(
    { id: 're_1Fine', amount: 1000, paymentIntent: 'pi_1Edited', charge: 'ch_1Edited', created: NOW - 2 * DAY },
    'succeeded'
  );
  await deliver([wrapEvent('refund.created', refund, { created: NOW - 2 * DAY })]);
  stripe.addObject('/v1/refunds', refund as never);
  for (let i = 0; i < 120; i++) {
    const open = buildPaymentIntent({ id: `pi_1Open${i}` }, 'requires_payment_method', NOW - 20 * DAY + i);
    stripe.addObject('/v1/payment_intents', open as never);
  }

  const edited = (await ops.project.server.all<PaymentReconciliation>('PaymentReconciliation')).find((r) =>
    r.identifier?.some((i) => i.value === 'pi_1Edited')
  ) as WithId<PaymentReconciliation>;
  await ops.project.server.repo.updateResource({ ...edited, paymentAmount: { value: 24, currency: 'USD' } });
}

beforeEach(async () => {
  ops = await operatorProject(msw);
  stripe = new StripeFake();
  msw.use(...stripe.handlers());
  ({ waits, sleep } = recordingSleep());
  await account();
});

async function reconcile(options: Partial<ReconcileOptions> = {}) {
  const ctx = await ops.context();
  ops.fake.calls.length = 0;
  stripe.calls.length = 0;
  const report = await runReconcile(
    { ...ctx, stripe: createRateLimitedStripe('sk_test_fake', { sleep, log: ctx.log }) },
    { since, routerId: ops.routerId, concurrency: 1, progress: silentProgress, ...options }
  );
  return { report, log: ctx.log, posted: ops.fake.executedEventIds(ops.routerId) };
}

const problems = (findings: readonly { problem: string; objectId: string; resourceType: string }[]) =>
  findings.map((f) => `${f.problem} ${f.objectId} ${f.resourceType}`).sort();

const THREE_WRONG = ['amount pi_1Edited PaymentReconciliation', 'missing in_1Old Invoice', 'status in_1Stale Invoice'];

describe('npm run reconcile', () => {
  it('reports the missing, the stale status and the wrong amount, per UTC day, reading Stripe page by page', async () => {
    stripe.rateLimitNext('/v1/invoices', '3');
    const { report, posted } = await reconcile();

    expect(problems(report.findings)).toEqual(THREE_WRONG);
    expect(report.findings.find((f) => f.objectId === 'in_1Stale')).toMatchObject({
      expected: 'balanced',
      found: 'issued',
    });
    expect(report.findings.find((f) => f.objectId === 'pi_1Edited')).toMatchObject({
      expected: '42 USD',
      found: '24 USD',
    });
    const day = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);
    expect(report.rows).toContainEqual({
      day: day(NOW - 40 * DAY),
      kind: 'invoice',
      objects: 1,
      missing: 1,
      status: 0,
      amount: 0,
    });
    expect(report.rows).toContainEqual({
      day: day(NOW - 3 * DAY),
      kind: 'payment_intent',
      objects: 1,
      missing: 0,
      status: 0,
      amount: 1,
    });
    // 3 invoices, 1 succeeded intent (the 120 open ones are not mapped), 1 refund.
    expect(report.totals).toEqual({ objects: 5, missing: 1, status: 1, amount: 1 });

    // The 429 was waited out as Retry-After asked, and the invoices listed again.
    expect(waits).toEqual([3000]);
    const invoiceLists = stripe.calls.filter((c) => c.path === '/v1/invoices');
    // The 429, then the same request again.
    expect(invoiceLists).toHaveLength(2);
    expect(invoiceLists[1]?.params).toEqual(invoiceLists[0]?.params);
    const intentPages = stripe.calls.filter((c) => c.path === '/v1/payment_intents');
    expect(intentPages.map((c) => c.params.starting_after)).toEqual([undefined, 'pi_1Open20']);
    expect(intentPages[0]?.params).toMatchObject({
      limit: '100',
      created: { gte: String(NOW - 60 * DAY) },
      expand: ['data.latest_charge'],
    });

    // The FHIR side is read in bulk: one search per type and identifier system, not one per object.
    const searches = ops.fake.calls.filter((c) => c.method === 'GET' && c.path.startsWith('fhir/R4/'));
    expect(searches.map((c) => decodeURIComponent(c.path.split('?')[0] ?? '')).sort()).toEqual([
      'fhir/R4/Invoice',
      'fhir/R4/PaymentNotice',
      'fhir/R4/PaymentNotice',
      'fhir/R4/PaymentReconciliation',
      'fhir/R4/PaymentReconciliation',
    ]);
    expect(decodeURIComponent(searches[0]?.path ?? '')).toContain(`identifier=${STRIPE_SYSTEM.invoice}|`);
    expect(posted).toEqual([]);
    expect(remainingFindings(report)).toHaveLength(3);
  });

  it('--fix replays the archives, backfills what Stripe keeps, rebuilds the rest; a second run is clean', async () => {
    const { report, posted } = await reconcile({ fix: true });
    const steps = Object.fromEntries((report.fix?.steps ?? []).map((s) => [s.step, s.summary]));
    // Replay: the archived events of the two wrong objects that have archives.
    expect(steps.replay?.selected).toBeGreaterThan(0);
    expect(steps.replay?.failed).toBe(0);
    // Backfill: the stale invoice's events that never reached the router.
    expect(steps.backfill).toMatchObject({ selected: 2, processed: 2, failed: 0 });
    // Rebuild: the old invoice and the edited payment (replaying its event changed nothing).
    expect(steps.rebuild).toMatchObject({ selected: 2, processed: 2, failed: 0 });
    const rebuilt = posted.filter((id) => id.startsWith('evt_reconcile_'));
    expect(rebuilt.map((id) => id.split('_').slice(2, 4).join('_'))).toEqual(['in_1Old', 'pi_1Edited']);
    expect(report.fix?.after?.findings).toEqual([]);
    expect(remainingFindings(report)).toEqual([]);
    // Stripe keeps 30 days of events: the backfill lists from then (not from --since), delivered ones too,
    // and only the types that carry invoices and payments.
    const eventLists = stripe.calls.filter((c) => c.path === '/v1/events');
    expect(eventLists[0]?.params.created).toEqual({ gte: expect.any(String) });
    const gte = Number((eventLists[0]?.params.created as { gte: string }).gte);
    expect(Math.abs(gte - (NOW - 30 * DAY))).toBeLessThan(120);
    expect(eventLists[0]?.params.delivery_success).toBeUndefined();

    const invoices = await ops.project.server.all<Invoice>('Invoice');
    const byId = (id: string) => invoices.find((i) => i.identifier?.some((x) => x.value === id));
    expect(byId('in_1Stale')?.status).toBe('balanced');
    expect(byId('in_1Old')).toMatchObject({ status: 'balanced', totalGross: { value: 120, currency: 'USD' } });
    const payment = (await ops.project.server.all<PaymentReconciliation>('PaymentReconciliation')).find((r) =>
      r.identifier?.some((i) => i.value === 'pi_1Edited')
    );
    expect(payment?.paymentAmount).toEqual({ value: 42, currency: 'USD' });
    // The rebuilt payment keeps its success time (the expanded charge's), not the time of the rebuild.
    expect(payment?.paymentDate).toBe(new Date((NOW - 3 * DAY - 60) * 1000).toISOString().slice(0, 10));

    const again = await reconcile();
    expect(again.report.findings).toEqual([]);
    expect(again.report.totals).toEqual({ objects: 5, missing: 0, status: 0, amount: 0 });
  });

  it('compares the other kinds when the key may not list one, and says which', async () => {
    stripe.forbidden.add('/v1/checkout/sessions');
    const { report, log } = await reconcile();
    expect(report.skipped).toEqual([
      { kind: 'checkout_session', reason: expect.stringContaining('may not list checkout_session') },
    ]);
    expect(problems(report.findings)).toEqual(THREE_WRONG);
    expect(log.lines.some((l) => l.startsWith('warning: the Stripe key may not list checkout_session'))).toBe(true);
  });

  it('compares subscriptions and claimed customers with their Accounts', async () => {
    // Stripe's subscription and customer fixtures; changed: ids, created, status, metadata.
    const subscription = loadStripeFixture<Record<string, unknown>>('openapi', 'subscription');
    const customer = loadStripeFixture<Record<string, unknown>>('openapi', 'customer');
    stripe.addObject('/v1/subscriptions', {
      ...subscription,
      id: 'sub_1Gone',
      created: NOW - DAY,
      status: 'canceled',
    } as never);
    stripe.addObject('/v1/customers', {
      ...customer,
      id: 'cus_1Claimed',
      created: NOW - DAY,
      metadata: { medplum_patient_id: ops.project.patient.id },
    } as never);
    stripe.addObject('/v1/customers', { ...customer, id: 'cus_1Anonymous', created: NOW - DAY, metadata: {} } as never);
    await ops.project.server.seed<Account>({
      resourceType: 'Account',
      status: 'active',
      identifier: [{ system: STRIPE_SYSTEM.subscription, value: 'sub_1Gone' }],
    });
    const { report } = await reconcile({ kinds: ['subscription', 'customer'] });
    expect(problems(report.findings)).toEqual(['missing cus_1Claimed Account', 'status sub_1Gone Account']);
    expect(report.findings.find((f) => f.objectId === 'sub_1Gone')).toMatchObject({
      expected: 'inactive',
      found: 'active',
    });
    expect(stripe.calls.filter((c) => c.path === '/v1/subscriptions')[0]?.params.status).toBe('all');
    expect(stripe.calls.map((c) => c.path).filter((path) => path === '/v1/invoices')).toEqual([]);
  });

  it('posts nothing with --fix --dry-run', async () => {
    const { report, posted } = await reconcile({ fix: true, dryRun: true, statePath: ops.statePath });
    expect(posted).toEqual([]);
    expect(ops.fake.writes()).toEqual([]);
    expect(report.fix?.steps.map((s) => s.summary.dryRun)).toEqual([true, true, true]);
    expect(problems(remainingFindings(report))).toEqual(THREE_WRONG);
  });

  it('resumes an interrupted --fix, and does not reuse the state of a finished run', async () => {
    const stop = new AbortController();
    msw.use(afterExecutes(2, () => stop.abort()));
    const first = await reconcile({ fix: true, statePath: ops.statePath, signal: stop.signal });
    expect(first.report.fix?.interrupted).toBe(true);
    expect(first.posted).toHaveLength(2);
    expect(readFileSync(ops.statePath, 'utf8')).toContain(first.posted[0] as string);

    const second = await reconcile({ fix: true, statePath: ops.statePath });
    expect(second.log.lines.join('\n')).toMatch(
      /resuming the interrupted run of .*: 2 event\(s\) it posted are not posted again/
    );
    expect(second.posted.filter((id) => first.posted.includes(id))).toEqual([]);
    expect(second.report.fix?.steps[0]?.summary.skipped).toBe(2);
    expect(second.report.fix?.after?.findings).toEqual([]);

    // Break it again: a new run finds the finished run's entries and says it does not reuse them.
    const edited = (await ops.project.server.all<Invoice>('Invoice')).find((i) =>
      i.identifier?.some((x) => x.value === 'in_1Fine')
    ) as WithId<Invoice>;
    await ops.project.server.repo.deleteResource('Invoice', edited.id);
    const third = await reconcile({ fix: true, statePath: ops.statePath });
    expect(third.log.lines.join('\n')).toMatch(/event\(s\) posted by earlier runs are not reused/);
    expect(third.report.fix?.steps.every((s) => s.summary.skipped === 0)).toBe(true);
    expect(third.report.fix?.after?.findings).toEqual([]);
  });

  it('does not resume an interrupted run of another window, and says why', async () => {
    const stop = new AbortController();
    msw.use(afterExecutes(1, () => stop.abort()));
    await reconcile({ fix: true, statePath: ops.statePath, signal: stop.signal });
    const other = await reconcile({ fix: true, statePath: ops.statePath, since: new Date((NOW - 59 * DAY) * 1000) });
    expect(other.log.lines.join('\n')).toMatch(/not resuming the interrupted run of .*: it covered another window/);
    expect(other.report.fix?.steps.every((s) => s.summary.skipped === 0)).toBe(true);
  });
});
