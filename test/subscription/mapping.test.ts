import type { Account, Communication } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import { readAppliedEvent } from '../../src/fhir/order';
import { mapSubscriptionAccount, subscriptionSnapshotOf } from '../../src/fhir/subscription-account';
import { applySubscriptionEvent, subscriptionStage } from '../../src/machines/subscription';
import { ROUTED_EVENT_TYPES, routeEvent } from '../../src/router/routes';
import type { StripeSubscription } from '../../src/stripe/types';
import { assertValidR4 } from '../../lib/embedded/validate';
import { wrapShapedEvent } from '../../lib/stripe-events/events';
import { loadStripeFixture, type FixtureShape } from '../../lib/stripe-events/fixtures';
import {
  buildSubscription,
  subscriptionLifecycleEvents,
  UPGRADED_ITEMS,
  type SubscriptionStatus,
} from '../../lib/stripe-events/subscription';
import { createTestProject, CUSTOMER_ID } from '../harness/project';
import { itemsOf, onlyLiveAccount, type SubscriptionEvent, subscriptionAccounts } from './helpers';

const T = 1_760_000_000;
const DAY = 86_400;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const SHAPES: readonly FixtureShape[] = ['openapi', 'openapi-2025-02-24.acacia'];
const TYPES = ROUTED_EVENT_TYPES['stripe-subscription'] ?? [];
const PATIENT = { reference: 'Patient/p1' };
const PAYEE = { reference: 'Organization/o1' };

function ext(account: Account, url: string) {
  return account.extension?.find((e) => e.url === url);
}

/** Runs the machine on the event from nothing (or the stored Account) and maps it, as the bot does. */
function accountFor(event: SubscriptionEvent, existing?: Account): Account {
  const stage = subscriptionStage(event.type, event.data.object.status);
  if (!stage) {
    throw new Error(`no stage for ${event.type}`);
  }
  const { snapshot, changed } = applySubscriptionEvent(subscriptionSnapshotOf(existing), {
    id: event.id,
    created: event.created,
    stage,
  });
  expect(changed).toBe(true);
  return mapSubscriptionAccount(event, snapshot, { patient: PATIENT, owner: PAYEE }, existing);
}

function event(type: string, status: SubscriptionStatus, at: number, shape: FixtureShape = 'openapi') {
  const object = buildSubscription({ id: 'sub_1TestMap', shape }, status, at, { created: T });
  return wrapShapedEvent(type, object, shape, { id: `evt_1Map${type.split('.')[2]}${at}`, created: at });
}

describe('routing of customer.subscription.*', () => {
  it('the eight event types and any later one reach stripe-subscription', () => {
    expect([...TYPES].sort()).toEqual(
      [
        'created',
        'deleted',
        'paused',
        'pending_update_applied',
        'pending_update_expired',
        'resumed',
        'trial_will_end',
        'updated',
      ].map((t) => `customer.subscription.${t}`)
    );
    for (const type of [...TYPES, 'customer.subscription.something_new']) {
      expect(routeEvent(type)).toEqual({ target: 'stripe-subscription' });
    }
    expect(routeEvent('customer.source.created')).not.toEqual({ target: 'stripe-subscription' });
  });
});

describe.each(SHAPES)('Stripe-written subscription fixture (%s) wrapped in events', (shape) => {
  const raw = loadStripeFixture<StripeSubscription>(shape, 'subscription');

  it('the fixture is a shape with placeholders: active, period on the items (current) or on the subscription (acacia)', () => {
    expect(raw.status).toBe('active');
    expect(raw.ended_at).toBe(1234567890);
    const item = raw.items?.data[0];
    if (shape === 'openapi') {
      expect(item?.current_period_start).toBeTypeOf('number');
      expect(raw.current_period_start).toBeUndefined();
    } else {
      expect(item?.current_period_start).toBeUndefined();
      expect(raw.current_period_start).toBe(1234567890);
    }
  });

  it.each(TYPES)('%s as Stripe wrote the object maps to a valid Account', async (type) => {
    // Unchanged object; the customer has no Patient in the project, so the Account has no subject.
    const project = await createTestProject();
    const response = await project.deliver(wrapShapedEvent(type, raw, shape, { created: T }));
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.result).toMatchObject({ outcome: 'processed', target: 'stripe-subscription' });
    expect(project.server.repo.rejected).toEqual([]);
    const account = await onlyLiveAccount(project);
    const deleted = type === 'customer.subscription.deleted';
    expect(account.status).toBe(deleted ? 'inactive' : 'active');
    expect(account.identifier).toEqual([{ system: STRIPE_SYSTEM.subscription, value: raw.id }]);
    expect(account.subject).toBeUndefined();
    expect(itemsOf(account)).toEqual(['price_1PgafmB7WZ01zgkW6dKueIc5 × 1']);
    // The fixture's item period ends before it starts (placeholders): never start after end.
    const item = ext(account, EXTENSION.subscriptionItem);
    const period = item?.extension?.find((p) => p.url === 'currentPeriod')?.valuePeriod;
    expect(period?.start && period.end && period.start <= period.end).toBe(true);
    expect(ext(account, EXTENSION.trialEnd)?.valueDateTime).toBe(iso(1234567890));
    const [archive] = await project.server.all<Communication>('Communication');
    expect(archive?.about).toEqual([{ reference: `Account/${account.id}` }]);
  });

  it('a valid variant (built from it) maps the same items and current period in both shapes', () => {
    // buildSubscription puts the period where the shape has it: items (current) or subscription (acacia).
    const account = accountFor(event('customer.subscription.created', 'active', T, shape));
    assertValidR4(account);
    const item = ext(account, EXTENSION.subscriptionItem);
    expect(item?.extension).toEqual([
      { url: 'id', valueString: 'si_1TestMap0' },
      { url: 'price', valueCoding: { system: STRIPE_SYSTEM.price, code: 'price_1TestCarePlan' } },
      { url: 'product', valueCoding: { system: STRIPE_SYSTEM.product, code: 'prod_1TestCare' } },
      { url: 'quantity', valueInteger: 1 },
      { url: 'currentPeriod', valuePeriod: { start: iso(T), end: iso(T + 30 * DAY) } },
    ]);
  });
});

describe('subscription → Account (pure mapping)', () => {
  it.each([
    ['incomplete', 'on-hold'],
    ['trialing', 'active'],
    ['active', 'active'],
    ['past_due', 'active'],
    ['unpaid', 'on-hold'],
    ['paused', 'on-hold'],
    ['canceled', 'inactive'],
    ['incomplete_expired', 'inactive'],
  ] as const)('status %s → Account.status %s, with the markers', (status, accountStatus) => {
    const e = event('customer.subscription.updated', status, T + 5);
    const account = accountFor(e);
    assertValidR4(account);
    expect(account.status).toBe(accountStatus);
    expect(ext(account, EXTENSION.subscriptionStatus)?.valueCode).toBe(status);
    expect(readAppliedEvent(account, EXTENSION.subscriptionLastAppliedEvent)).toEqual({
      id: e.id,
      created: T + 5,
      stage: status,
    });
    // The schedule's marker is not the subscription's.
    expect(readAppliedEvent(account)).toBeUndefined();
    expect(account.subject).toEqual([PATIENT]);
    expect(account.owner).toEqual(PAYEE);
    expect(account.name).toBe('Stripe subscription sub_1TestMap');
    expect(account.meta?.tag).toEqual([{ system: STRIPE_SYSTEM.customer, code: CUSTOMER_ID }]);
  });

  it('servicePeriod: start_date .. ended_at once ended, open before; never start after end', () => {
    expect(accountFor(event('customer.subscription.updated', 'active', T + 5)).servicePeriod).toEqual({
      start: iso(T),
    });
    const ended = accountFor(event('customer.subscription.deleted', 'canceled', T + 9 * DAY));
    expect(ended.servicePeriod).toEqual({ start: iso(T), end: iso(T + 9 * DAY) });
    // Without ended_at, the cancel time; a subscription that ended "before" it started: zero length.
    const e = event('customer.subscription.deleted', 'canceled', T + 3 * DAY);
    const odd = { ...e, data: { object: { ...e.data.object, ended_at: null, canceled_at: T - 60 } } };
    const account = accountFor(odd);
    assertValidR4(account);
    expect(account.servicePeriod).toEqual({ start: iso(T - 60), end: iso(T - 60) });
  });

  it('trial end kept; description names the Account; several items in one canonical order', () => {
    const object = buildSubscription(
      {
        id: 'sub_1TestMap',
        trialEnd: T + 14 * DAY,
        description: 'Physio membership',
        items: [
          { price: 'price_1Zeta', product: 'prod_1Zeta', quantity: 1 },
          { price: 'price_1Alpha', product: 'prod_1Alpha', quantity: 3 },
        ],
      },
      'trialing',
      T
    );
    const forward = accountFor(
      wrapShapedEvent('customer.subscription.created', object, 'openapi', { id: 'evt_1A', created: T })
    );
    const reversed = { ...object, items: { data: [...(object.items?.data ?? [])].reverse() } };
    const backward = accountFor(
      wrapShapedEvent('customer.subscription.created', reversed, 'openapi', { id: 'evt_1A', created: T })
    );
    expect(forward).toEqual(backward);
    expect(forward.name).toBe('Physio membership');
    expect(ext(forward, EXTENSION.trialEnd)?.valueDateTime).toBe(iso(T + 14 * DAY));
    expect(itemsOf(forward).sort()).toEqual(['price_1Alpha × 3', 'price_1Zeta × 1']);
  });

  it('keeps the schedule’s part, foreign identifiers and partOf of the stored Account', () => {
    const existing: Account = {
      resourceType: 'Account',
      status: 'inactive',
      identifier: [
        { system: STRIPE_SYSTEM.subscriptionSchedule, value: 'sub_sched_1Old' },
        { system: 'https://clinic.example/account', value: 'A-7' },
      ],
      extension: [{ url: EXTENSION.machineState, valueCode: 'released' }],
      partOf: { reference: 'Account/billing' },
      subject: [{ reference: 'Patient/first' }],
    };
    const account = accountFor(event('customer.subscription.updated', 'active', T + 5), existing);
    expect(account.status).toBe('active');
    expect(account.subject).toEqual([{ reference: 'Patient/first' }]);
    expect(account.partOf).toEqual({ reference: 'Account/billing' });
    expect(ext(account, EXTENSION.machineState)?.valueCode).toBe('released');
    expect(account.identifier).toEqual([
      { system: 'https://clinic.example/account', value: 'A-7' },
      { system: STRIPE_SYSTEM.subscription, value: 'sub_1TestMap' },
      { system: STRIPE_SYSTEM.subscriptionSchedule, value: 'sub_sched_1Old' },
    ]);
  });
});

describe('router + subscription bot: the Account as stored', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('an upgrade (items change) is a new Account version: history shows the plan before and after', async () => {
    const project = await createTestProject();
    const [created, upgraded] = subscriptionLifecycleEvents({ id: 'sub_1Upgrade' }, 'upgraded', { start: T });
    for (const e of [created, upgraded]) {
      expect((await project.deliver(e)).status).toBe(200);
    }
    const account = await onlyLiveAccount(project);
    expect(itemsOf(account)).toEqual([`${UPGRADED_ITEMS[0]?.price} × 2`]);
    const history = await project.server.client().readHistory('Account', account.id as string);
    const versions = (history.entry ?? []).map((e) => itemsOf(e.resource as Account));
    // Newest first, as Medplum answers _history.
    expect(versions).toEqual([['price_1TestPremium × 2'], ['price_1TestCarePlan × 1']]);
    expect(account.status).toBe('active');
    expect(account.subject).toEqual([{ reference: `Patient/${project.patient.id}` }]);
    expect(account.owner).toEqual({ reference: `Organization/${project.payee.id}` });
  });

  it('trial_will_end changes no status but is recorded', async () => {
    const project = await createTestProject();
    const [created, willEnd] = subscriptionLifecycleEvents({ id: 'sub_1Trial' }, 'trial', { start: T, gaps: [60, 60] });
    await project.deliver(created);
    const before = await onlyLiveAccount(project);
    const response = await project.deliver(willEnd);
    expect(response.result.outcome).toBe('processed');
    const after = await onlyLiveAccount(project);
    expect(after.status).toBe(before.status);
    expect(after.status).toBe('active');
    expect(readAppliedEvent(after, EXTENSION.subscriptionLastAppliedEvent)?.id).toBe(willEnd?.id);
    expect(ext(after, EXTENSION.trialEnd)?.valueDateTime).toBe(iso(T + 120));
  });

  it('a subscription whose customer has no Patient: Account without subject, and a log line says so', async () => {
    const log = vi.spyOn(console, 'log');
    const project = await createTestProject();
    const [created] = subscriptionLifecycleEvents({ id: 'sub_1NoPatient', customer: 'cus_1Nobody' }, 'trial');
    expect((await project.deliver(created)).status).toBe(200);
    const account = await onlyLiveAccount(project);
    expect(account.subject).toBeUndefined();
    expect(account.meta?.tag).toEqual([{ system: STRIPE_SYSTEM.customer, code: 'cus_1Nobody' }]);
    const noted = log.mock.calls
      .map(([line]) => String(line))
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.subscription === 'sub_1NoPatient');
    expect(noted).toMatchObject({ msg: expect.stringMatching(/no Patient/), customerId: 'cus_1Nobody' });
  });

  it('metadata.medplum_patient_id names the Patient when the customer does not', async () => {
    const project = await createTestProject();
    const [created] = subscriptionLifecycleEvents(
      { id: 'sub_1Metadata', customer: 'cus_1Other', metadata: { medplum_patient_id: project.patient.id } },
      'trial'
    );
    await project.deliver(created);
    expect((await onlyLiveAccount(project)).subject).toEqual([{ reference: `Patient/${project.patient.id}` }]);
  });

  it('ignores, with a reason, a status the machine does not know, and writes nothing', async () => {
    const project = await createTestProject();
    const [created] = subscriptionLifecycleEvents({ id: 'sub_1Odd' }, 'trial');
    const odd = { ...created, data: { object: { ...created?.data.object, status: 'ended' } } };
    const response = await project.deliver(odd);
    expect(response.status).toBe(200);
    expect(response.result).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/ended/) });
    expect(await subscriptionAccounts(project)).toEqual([]);
  });

  it('a stale event writes nothing and says so', async () => {
    const project = await createTestProject();
    const events = subscriptionLifecycleEvents({ id: 'sub_1Stale' }, 'past-due-then-canceled', { start: T });
    await project.deliver(events[2]);
    const before = await onlyLiveAccount(project);
    const { result } = await project.deliver(events[1]);
    expect(result.reason).toMatch(/already shows this or a later event/);
    expect((await onlyLiveAccount(project)).meta?.versionId).toBe(before.meta?.versionId);
  });
});
