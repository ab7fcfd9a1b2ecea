import { setupServer } from 'msw/node';
import { existsSync, readFileSync } from 'node:fs';
import type Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventListParams, runBackfill, type BackfillFilter } from '../../scripts/ops/backfill';
import { createStripe } from '../../scripts/ops/env';
import type { RunOptions } from '../../scripts/ops/replay';
import type { StripeEvent } from '../../src/stripe/types';
import { buildInvoice, buildPaymentIntent, invoiceLifecycleEvents, wrapEvent } from '../../lib/stripe-events/events';
import {
  afterExecutes,
  operatorProject,
  rateLimitExecute,
  silentProgress,
  type OperatorProject,
} from './operator-project';
import { StripeFake } from './stripe-fake';

const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterEach(() => msw.resetHandlers());
afterAll(() => msw.close());

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;
const since = new Date((NOW - 30 * DAY) * 1000);

let ops: OperatorProject;
let stripe: StripeFake;

beforeEach(async () => {
  ops = await operatorProject(msw);
  stripe = new StripeFake();
  msw.use(...stripe.handlers());
});

function add(events: readonly StripeEvent[], delivered = false): StripeEvent[] {
  for (const event of events) {
    stripe.addEvent(event as unknown as Stripe.Event, delivered);
  }
  return [...events];
}

async function backfill(filter: Partial<BackfillFilter> = {}, options: RunOptions = {}) {
  const ctx = await ops.context();
  ops.fake.calls.length = 0;
  stripe.calls.length = 0;
  const summary = await runBackfill(
    { ...ctx, stripe: createStripe('sk_test_fake') },
    { since, ...filter },
    {
      routerId: ops.routerId,
      concurrency: 1,
      progress: silentProgress,
      ...options,
    }
  );
  const listed = stripe.calls.filter((c) => c.path.startsWith('/v1/events'));
  return { summary, posted: ops.fake.executedEventIds(ops.routerId), listed, log: ctx.log };
}

const ids = (events: readonly StripeEvent[]) => events.map((e) => e.id);

/** `payment_intent.created` events: the payment bot answers `ignored` (nothing to write), so they are cheap to post in bulk. */
function createdIntents(count: number, start: number): StripeEvent[] {
  return Array.from({ length: count }, (_, i) =>
    wrapEvent(
      'payment_intent.created',
      buildPaymentIntent({ id: `pi_1Bulk${i}` }, 'requires_payment_method', start + i),
      {
        created: start + i,
      }
    )
  ) as StripeEvent[];
}

describe('npm run backfill', () => {
  it('pages through the Events API with starting_after and posts oldest first', async () => {
    const events = add(createdIntents(205, NOW - 10 * DAY));
    const { summary, posted, listed } = await backfill();
    expect(posted).toEqual(ids(events));
    expect(summary).toMatchObject({ selected: 205, processed: 0, ignored: 205, failed: 0 });
    // Stripe lists newest first: the cursor is the oldest of each page.
    const newestFirst = [...events].reverse();
    expect(listed.map((c) => c.params.starting_after)).toEqual([undefined, newestFirst[99]?.id, newestFirst[199]?.id]);
    expect(listed.every((c) => c.params.limit === '100')).toBe(true);
  });

  it('by default asks for the last 30 days of undelivered events, and keeps the router’s event types', async () => {
    const failed = add(invoiceLifecycleEvents({ id: 'in_1Backfill' }, 'paid', { start: NOW - 5 * DAY }));
    const delivered = add(invoiceLifecycleEvents({ id: 'in_1Delivered' }, 'voided', { start: NOW - 4 * DAY }), true);
    const old = add([
      wrapEvent('invoice.paid', buildInvoice({ id: 'in_1Old' }, 'paid', NOW - 40 * DAY), { created: NOW - 40 * DAY }),
    ]);
    const foreign = add([
      wrapEvent(
        'product.created',
        { object: 'product', id: 'prod_1New' },
        { created: NOW - DAY }
      ) as unknown as StripeEvent,
    ]);

    const { posted, listed } = await backfill();
    expect(posted).toEqual(ids(failed));
    expect(listed[0]?.params).toMatchObject({
      delivery_success: 'false',
      created: { gte: String(Math.floor(since.getTime() / 1000)) },
    });
    expect(posted).not.toContain(old[0]?.id);
    expect(posted).not.toContain(foreign[0]?.id);

    // Named by id, an event is posted whatever its type (the router archives it as ignored).
    expect((await backfill({ eventIds: [foreign[0]?.id as string] })).posted).toEqual(ids(foreign));

    const all = await backfill({ includeDelivered: true });
    expect(all.listed[0]?.params.delivery_success).toBeUndefined();
    expect(all.posted).toEqual(ids([...failed, ...delivered]));
  });

  it('filters by exact types, a wildcard, a time window and event ids', async () => {
    const invoices = add(invoiceLifecycleEvents({ id: 'in_1Filter' }, 'paid', { start: NOW - 3 * DAY }));
    const payment = add([
      wrapEvent('payment_intent.succeeded', buildPaymentIntent({ id: 'pi_1Filter' }, 'succeeded', NOW - 2 * DAY), {
        created: NOW - 2 * DAY,
      }),
    ]);

    const exact = await backfill({ types: ['invoice.paid', 'payment_intent.succeeded'] });
    expect(exact.listed[0]?.params.types).toEqual(['invoice.paid', 'payment_intent.succeeded']);
    expect(exact.posted).toEqual(ids([invoices[4] as StripeEvent, ...payment]));

    const wildcard = await backfill({ types: ['invoice.*'] });
    expect(wildcard.listed[0]?.params.type).toBe('invoice.*');
    expect(wildcard.posted).toEqual(ids(invoices));

    const window = await backfill({
      since: new Date((NOW - 2 * DAY - 10) * 1000),
      until: new Date((NOW - DAY) * 1000),
    });
    expect(window.listed[0]?.params.created).toEqual({
      gte: String(NOW - 2 * DAY - 10),
      lt: String(NOW - DAY),
    });
    expect(window.posted).toEqual(ids(payment));

    const byId = await backfill({ eventIds: [payment[0]?.id as string, invoices[0]?.id as string] });
    expect(byId.listed.map((c) => c.path)).toEqual([`/v1/events/${payment[0]?.id}`, `/v1/events/${invoices[0]?.id}`]);
    expect(byId.posted).toEqual([invoices[0]?.id, payment[0]?.id]);
  });

  it('counts a bot answering 400 as failed and goes on with the rest', async () => {
    const before = add(invoiceLifecycleEvents({ id: 'in_1Before' }, 'voided', { start: NOW - 3 * DAY }));
    const poison = add([wrapEvent('invoice.paid', { id: 'in_1Poison' } as never, { created: NOW - 2 * DAY })]);
    const after = add(createdIntents(3, NOW - DAY));
    const { summary, posted } = await backfill();
    expect(posted).toEqual(ids([...before, ...poison, ...after]));
    expect(summary).toMatchObject({ processed: 3, ignored: 3, failed: 1 });
    expect(summary.failures).toEqual([
      { id: poison[0]?.id, type: 'invoice.paid', reason: expect.stringMatching(/^400 .*Invalid Stripe event/) },
    ]);
  });

  it('waits out a 429 as its RateLimit header asks and retries, without counting it failed', async () => {
    const events = add(createdIntents(3, NOW - DAY));
    msw.use(rateLimitExecute(3, '"requests";r=0;t=12'));
    const { summary, posted } = await backfill();
    expect(ops.waits).toEqual([12_000, 12_000, 12_000]);
    expect(posted).toEqual(ids(events));
    expect(summary).toMatchObject({ ignored: 3, failed: 0 });
  });

  it('resumes after an interruption without posting again what succeeded, unless forced', async () => {
    const events = add(createdIntents(8, NOW - DAY));
    const stop = new AbortController();
    msw.use(afterExecutes(3, () => stop.abort()));
    const first = await backfill({}, { statePath: ops.statePath, signal: stop.signal });
    expect(first.summary.interrupted).toBe(true);
    expect(first.posted).toEqual(ids(events.slice(0, 3)));

    const second = await backfill({}, { statePath: ops.statePath });
    expect(second.posted).toEqual(ids(events.slice(3)));
    expect(second.summary).toMatchObject({ selected: 8, skipped: 3, ignored: 5, failed: 0, interrupted: false });
    // One line per event posted, and one that closes the run: it posted everything.
    const lines = readFileSync(ops.statePath, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(9);
    expect(JSON.parse(lines[8] ?? '{}')).toMatchObject({ closed: true });

    // So a later run is a new run: the finished one's state is not reused, and it says so.
    const third = await backfill({}, { statePath: ops.statePath });
    expect(third.posted).toEqual(ids(events));
    expect(third.log.lines.join('\n')).toMatch(/a run with the same selection finished at .*not reused/);
  });

  it('posts and writes nothing in a dry run', async () => {
    add(createdIntents(4, NOW - DAY));
    const { summary, posted } = await backfill({}, { statePath: ops.statePath, dryRun: true });
    expect(posted).toEqual([]);
    expect(ops.fake.writes()).toEqual([]);
    expect(existsSync(ops.statePath)).toBe(false);
    expect(summary).toMatchObject({ selected: 4, dryRun: true, processed: 0 });
  });

  it('puts at most 20 exact types in `types`, and lists everything for more', () => {
    const many = Array.from({ length: 21 }, (_, i) => `invoice.t${i}`);
    expect(eventListParams({ since, types: many }).types).toBeUndefined();
    expect(eventListParams({ since, types: many.slice(0, 20) }).types).toHaveLength(20);
    expect(eventListParams({ since, types: ['invoice.*', 'refund.*'] })).not.toHaveProperty('type');
  });
});
