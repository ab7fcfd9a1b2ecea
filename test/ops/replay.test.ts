import type { Communication, Invoice } from '@medplum/fhirtypes';
import { setupServer } from 'msw/node';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runReplay, type ReplayFilter, type RunOptions } from '../../scripts/ops/replay';
import { STRIPE_SYSTEM } from '../../src/constants';
import type { StripeEvent } from '../../src/stripe/types';
import { buildArchive } from '../../src/router/archive';
import { buildPaymentIntent, invoiceLifecycleEvents, stripeBody, wrapEvent } from '../../lib/stripe-events/events';
import {
  afterExecutes,
  operatorProject,
  rateLimitExecute,
  silentProgress,
  type OperatorProject,
} from './operator-project';

const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterEach(() => msw.resetHandlers());
afterAll(() => msw.close());

const T0 = 1_760_000_000;

/**
 * Archives of 11 events, delivered by Stripe (signed) in time order: invoice A paid (6 events),
 * a poison `invoice.paid` whose object says no `object` (the invoice bot answers 400, so its
 * archive is `stopped`), invoice B voided (3), a payment intent succeeded (1).
 */
interface Archive {
  readonly ops: OperatorProject;
  readonly invoiceA: StripeEvent[];
  readonly poison: StripeEvent;
  readonly invoiceB: StripeEvent[];
  readonly payment: StripeEvent;
  readonly all: StripeEvent[];
}

let archive: Archive;

beforeEach(async () => {
  const ops = await operatorProject(msw);
  const invoiceA = invoiceLifecycleEvents({ id: 'in_1ReplayA' }, 'paid', { start: T0 });
  // A Stripe-shaped envelope whose data.object has no `object`: the invoice bot rejects it (400).
  const poison = wrapEvent('invoice.paid', { id: 'in_1Poison' } as never, { created: T0 + 500 });
  const invoiceB = invoiceLifecycleEvents({ id: 'in_1ReplayB' }, 'voided', { start: T0 + 1000 });
  const payment = wrapEvent(
    'payment_intent.succeeded',
    buildPaymentIntent({ id: 'pi_1Replay' }, 'succeeded', T0 + 2000),
    {
      created: T0 + 2000,
    }
  );
  const all = [...invoiceA, poison, ...invoiceB, payment] as StripeEvent[];
  for (const event of all) {
    const response = await ops.project.deliver(event);
    expect(response.status, event.type).toBe(event === poison ? 400 : 200);
  }
  archive = { ops, invoiceA, poison, invoiceB, payment, all };
});

async function replay(filter: ReplayFilter, options: RunOptions = {}) {
  const ctx = await archive.ops.context();
  archive.ops.fake.calls.length = 0;
  const summary = await runReplay(ctx, filter, {
    routerId: archive.ops.routerId,
    concurrency: 1,
    progress: silentProgress,
    ...options,
  });
  return { summary, posted: archive.ops.fake.executedEventIds(archive.ops.routerId), log: ctx.log };
}

const ids = (events: readonly StripeEvent[]) => events.map((e) => e.id);

describe('npm run replay', () => {
  it('replays every archive oldest first, reading the archive page by page', async () => {
    const { summary, posted } = await replay({}, { pageSize: 3 });
    expect(posted).toEqual(ids(archive.all));
    const searches = archive.ops.fake.calls.filter(
      (c) => c.method === 'GET' && c.path.startsWith('fhir/R4/Communication')
    );
    expect(searches.length).toBeGreaterThanOrEqual(4);
    expect(summary).toMatchObject({ selected: 11, skipped: 0, processed: 10, failed: 1, interrupted: false });
  });

  it('counts a bot answering 400 as failed and goes on with the rest', async () => {
    const { summary, posted } = await replay({}, { concurrency: 2 });
    expect(new Set(posted)).toEqual(new Set(ids(archive.all)));
    expect(summary.failed).toBe(1);
    expect(summary.processed + summary.ignored + summary.duplicate).toBe(10);
    expect(summary.failures).toEqual([
      { id: archive.poison.id, type: 'invoice.paid', reason: expect.stringMatching(/^400 .*Invalid Stripe event/) },
    ]);
  });

  it('selects by type with wildcards, by exact types, by time on `sent`, by event id, or failed only', async () => {
    expect((await replay({ types: ['payment_intent.*'] })).posted).toEqual([archive.payment.id]);
    expect((await replay({ types: ['invoice.*'] })).posted).toEqual(
      ids([...archive.invoiceA, archive.poison, ...archive.invoiceB])
    );

    const exact = await replay({ types: ['invoice.voided', 'payment_intent.succeeded'] });
    expect(exact.posted).toEqual([archive.invoiceB[2]?.id, archive.payment.id]);
    // Exact types are searched for on the archive's category; only wildcards are matched afterwards.
    expect(
      archive.ops.fake.calls.some((c) =>
        decodeURIComponent(c.path).includes('category=https://stripe.com/event/type|invoice.voided')
      )
    ).toBe(true);

    const window = await replay({ since: new Date((T0 + 1000) * 1000), until: new Date((T0 + 2000) * 1000) });
    expect(window.posted).toEqual(ids(archive.invoiceB));

    const byId = await replay({ eventIds: [archive.payment.id, archive.invoiceA[0]?.id as string] });
    expect(byId.posted).toEqual([archive.invoiceA[0]?.id, archive.payment.id]);

    const failed = await replay({ failedOnly: true });
    expect(failed.posted).toEqual([archive.poison.id]);
    expect(failed.summary.failed).toBe(1);
  });

  it('marks a failed archive completed when its replay succeeds', async () => {
    // Fail the payment's first delivery: its archive is left stopped, then the replay completes it.
    const ops = archive.ops;
    const late = wrapEvent(
      'payment_intent.succeeded',
      buildPaymentIntent({ id: 'pi_1ReplayLate' }, 'succeeded', T0 + 3000),
      {
        created: T0 + 3000,
      }
    );
    // Every try fails (MedplumClient retries a 500, in the bot and in the router's dispatch).
    ops.project.server.injectFault({
      kind: 500,
      match: (r) => r.resourceType === 'PaymentReconciliation' && r.method === 'POST',
    });
    expect((await ops.project.deliver(late)).status).not.toBe(200);
    ops.project.server.clearFaults();

    const { summary, posted } = await replay({ failedOnly: true });
    expect(posted).toEqual([archive.poison.id, late.id]);
    expect(summary).toMatchObject({ processed: 1, failed: 1 });
    const stored = (await ops.project.server.all<Communication>('Communication')).find((c) =>
      c.identifier?.some((i) => i.system === STRIPE_SYSTEM.event && i.value === late.id)
    );
    expect(stored?.status).toBe('completed');
  });

  it('waits out a 429 as its RateLimit header asks and retries, without counting it failed', async () => {
    msw.use(rateLimitExecute(2, '"requests";r=0;t=7'));
    const { summary, posted } = await replay({ eventIds: ids(archive.invoiceB) });
    expect(archive.ops.waits).toEqual([7000, 7000]);
    expect(posted).toEqual(ids(archive.invoiceB));
    expect(summary).toMatchObject({ processed: 3, failed: 0 });
  });

  it('resumes after an interruption without posting again what succeeded, unless forced', async () => {
    const stop = new AbortController();
    msw.use(afterExecutes(4, () => stop.abort()));
    const first = await replay({}, { statePath: archive.ops.statePath, signal: stop.signal });
    expect(first.summary.interrupted).toBe(true);
    expect(first.posted).toEqual(ids(archive.all.slice(0, 4)));
    expect(readFileSync(archive.ops.statePath, 'utf8').trim().split('\n')).toHaveLength(4);

    const second = await replay({}, { statePath: archive.ops.statePath });
    expect(second.posted).toEqual(ids(archive.all.slice(4)));
    expect(second.summary).toMatchObject({ selected: 11, skipped: 4, processed: 6, failed: 1, interrupted: false });

    // The poison event failed, so it is not done: a third run posts it alone.
    const third = await replay({}, { statePath: archive.ops.statePath });
    expect(third.posted).toEqual([archive.poison.id]);

    const forced = await replay({ eventIds: [archive.payment.id] }, { statePath: archive.ops.statePath, force: true });
    expect(forced.posted).toEqual([archive.payment.id]);
  });

  it('posts and writes nothing in a dry run', async () => {
    const before = await archive.ops.project.server.all<Communication>('Communication');
    const { summary, posted, log } = await replay({}, { statePath: archive.ops.statePath, dryRun: true });
    expect(posted).toEqual([]);
    expect(archive.ops.fake.writes()).toEqual([]);
    expect(existsSync(archive.ops.statePath)).toBe(false);
    expect(summary).toMatchObject({ selected: 11, dryRun: true, processed: 0, failed: 0 });
    expect(await archive.ops.project.server.all<Communication>('Communication')).toEqual(before);
    expect(log.lines).toContain('dry run: would post 11 event(s) to the router');
  });

  it('with --failed-only also takes archives stuck in-progress for longer than a bot run can last', async () => {
    const ops = archive.ops;
    const stuckEvent = wrapEvent(
      'payment_intent.succeeded',
      buildPaymentIntent({ id: 'pi_1ReplayStuck' }, 'succeeded', T0 + 3000),
      { created: T0 + 3000 }
    );
    const recentEvent = wrapEvent(
      'payment_intent.succeeded',
      buildPaymentIntent({ id: 'pi_1ReplayRecent' }, 'succeeded', T0 + 3100),
      { created: T0 + 3100 }
    );
    // What an older router left when it was cut off between its archive and its dispatch.
    const inProgress = (event: StripeEvent, lastUpdated: string) => ({
      ...buildArchive(event, stripeBody(event), { status: 'completed', resources: [] }),
      status: 'in-progress' as const,
      meta: { lastUpdated },
    });
    await ops.project.server.seed<Communication>(
      inProgress(stuckEvent, new Date(Date.now() - 3_600_000).toISOString())
    );
    // Still within a bot run's time: it may be running now, so it is left alone.
    await ops.project.server.seed<Communication>(inProgress(recentEvent, new Date().toISOString()));

    const { summary, posted } = await replay({ failedOnly: true });
    expect(posted).toEqual([archive.poison.id, stuckEvent.id]);
    expect(summary).toMatchObject({ processed: 1, failed: 1 });
    const stored = (await ops.project.server.all<Communication>('Communication')).find((c) =>
      c.identifier?.some((i) => i.system === STRIPE_SYSTEM.event && i.value === stuckEvent.id)
    );
    expect(stored?.status).toBe('completed');
    expect(stored?.about?.length).toBeGreaterThan(0);
  });

  it('recovers an event a configuration typo stopped, once the typo is fixed', async () => {
    const ops = archive.ops;
    const payee = `Organization/${ops.project.payee.id}`;
    ops.project.server.setSecret('PAYEE_ORGANIZATION', ops.project.payee.id); // the typo: a bare id
    const late = invoiceLifecycleEvents({ id: 'in_1ReplayTypo' }, 'paid', { start: T0 + 4000 })[0] as StripeEvent;
    expect((await ops.project.deliver(late)).status).toBe(400);

    ops.project.server.setSecret('PAYEE_ORGANIZATION', payee);
    const { summary, posted } = await replay({ failedOnly: true });
    expect(posted).toEqual([archive.poison.id, late.id]);
    expect(summary).toMatchObject({ processed: 1, failed: 1 });
    const invoice = (await ops.project.server.all<Invoice>('Invoice')).find((i) =>
      i.identifier?.some((id) => id.value === 'in_1ReplayTypo')
    );
    expect(invoice?.issuer).toEqual({ reference: payee });
  });

  it('does not reuse the state of a run that finished, nor of another selection, and says so', async () => {
    const statePath = archive.ops.statePath;
    const selection = (types: string[]) => JSON.stringify({ types });
    const first = await replay({ types: ['invoice.*'] }, { statePath, selection: selection(['invoice.*']) });
    expect(first.summary).toMatchObject({ processed: 9, failed: 1, interrupted: false });
    // The failure left that run unfinished: the same selection resumes it and posts only the failed event.
    const resumed = await replay({ types: ['invoice.*'] }, { statePath, selection: selection(['invoice.*']) });
    expect(resumed.posted).toEqual([archive.poison.id]);
    expect(resumed.log.lines.join('\n')).toMatch(/resuming the unfinished run.*the 9 event\(s\) it posted are skipped/);

    // Another selection posts what it selects, whatever the state holds for the first one.
    const other = await replay({ types: ['invoice.voided'] }, { statePath, selection: selection(['invoice.voided']) });
    expect(other.posted).toEqual([archive.invoiceB[2]?.id]);
    expect(other.log.lines.join('\n')).toMatch(/also holds 1 other run\(s\).*not reused/);
    // That run posted everything: run again, it starts afresh and says why.
    const again = await replay({ types: ['invoice.voided'] }, { statePath, selection: selection(['invoice.voided']) });
    expect(again.posted).toEqual([archive.invoiceB[2]?.id]);
    expect(again.log.lines.join('\n')).toMatch(/a run with the same selection finished at .*not reused/);
  });
});
