import type { Account, Communication } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import { ABORTED_REASON, accountSubscriptionIds, mapAccount, scheduleSnapshotOf } from '../../src/fhir/account';
import { readAppliedEvent } from '../../src/fhir/order';
import { applyScheduleEvent, scheduleStage, type ScheduleSnapshot } from '../../src/machines/subscription-schedule';
import { ROUTED_EVENT_TYPES, routeEvent } from '../../src/router/routes';
import type { StripeSubscriptionSchedule } from '../../src/stripe/types';
import { loadStripeFixture } from '../../lib/stripe-events/fixtures';
import { createTestProject, CUSTOMER_ID } from '../harness/project';
import {
  buildSubscriptionSchedule,
  scheduleLifecycleEvents,
  wrapEvent,
  type ScheduleStatus,
  type ScheduleVariant,
} from '../../lib/stripe-events/events';
import { assertValidR4 } from '../../lib/embedded/validate';
import { extensionValue, onlyAccount, type ScheduleEvent } from './helpers';

const T = 1_760_000_000;
const DAY = 86_400;
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const PATIENT = { reference: 'Patient/p1' };
const PAYEE = { reference: 'Organization/o1' };

/** Runs the machine from `previous` on the event, as the bot does, and maps the result. */
function accountFor(event: ScheduleEvent, previous?: ScheduleSnapshot, existing?: Account): Account {
  const stage = scheduleStage(event.type, event.data.object.status);
  if (!stage) {
    throw new Error(`no stage for ${event.type}`);
  }
  const { snapshot, changed } = applyScheduleEvent(previous, { id: event.id, created: event.created, stage });
  expect(changed).toBe(true);
  return mapAccount(event, snapshot, { patient: PATIENT, owner: PAYEE }, existing);
}

function scheduleEvent(
  type: string,
  status: ScheduleStatus,
  at: number,
  variant: Partial<ScheduleVariant> = {},
  started = status !== 'not_started'
): ScheduleEvent {
  const object = buildSubscriptionSchedule({ id: 'sub_sched_1TestMap', ...variant }, status, at, {
    created: T,
    started,
  });
  return wrapEvent(type, object, { id: `evt_1Map${type.split('.')[1]}${at}`, created: at });
}

describe('Stripe subscription_schedule fixture → Account (pure mapping)', () => {
  it('the fixture as Stripe wrote it has placeholders that the builder replaces', () => {
    // What buildSubscriptionSchedule changes (see its doc comment), checked against the raw fixture.
    const raw = loadStripeFixture<StripeSubscriptionSchedule>('openapi', 'subscription_schedule');
    expect(raw.status).toBe('not_started');
    expect(raw.canceled_at).toBe(1234567890);
    expect(raw.customer).toBe('cus_QXg1o8vcGmoR32');
    const built = buildSubscriptionSchedule({ id: 'sub_sched_1TestMap' }, 'not_started', T);
    expect(built).toMatchObject({
      id: 'sub_sched_1TestMap',
      customer: CUSTOMER_ID,
      canceled_at: null,
      completed_at: null,
      released_at: null,
      subscription: null,
      current_phase: null,
    });
    expect(built.phases?.[0]).toMatchObject({ start_date: T, end_date: T + 30 * DAY });
    // The fixture's other fields stay as Stripe wrote them.
    expect((built as unknown as Record<string, unknown>).billing_mode).toEqual({ type: 'classic', flexible: {} });
  });

  it('maps a not-started schedule to a valid on-hold Account', () => {
    const event = scheduleEvent('subscription_schedule.created', 'not_started', T);
    const account = accountFor(event);
    assertValidR4(account);
    expect(account.status).toBe('on-hold');
    expect(account.identifier).toEqual([{ system: STRIPE_SYSTEM.subscriptionSchedule, value: 'sub_sched_1TestMap' }]);
    expect(account.subject).toEqual([PATIENT]);
    expect(account.owner).toEqual(PAYEE);
    expect(account.name).toBe('Stripe subscription schedule sub_sched_1TestMap');
    expect(account.servicePeriod).toEqual({ start: iso(T), end: iso(T + 30 * DAY) });
    expect(extensionValue(account, EXTENSION.stripeStatus)).toBe('not_started');
    expect(extensionValue(account, EXTENSION.machineState)).toBe('notStarted');
    expect(readAppliedEvent(account)).toEqual({ id: event.id, created: T, stage: 'not_started' });
    expect(extensionValue(account, EXTENSION.statusReason)).toBeUndefined();
  });

  it('an active schedule carries its subscription as an identifier (canonical order: by system, then value)', () => {
    const account = accountFor(
      scheduleEvent('subscription_schedule.updated', 'active', T + 5, { description: 'Physio plan' })
    );
    assertValidR4(account);
    expect(account.status).toBe('active');
    expect(account.name).toBe('Physio plan');
    expect(account.identifier).toEqual([
      { system: STRIPE_SYSTEM.subscription, value: 'sub_1TestMap' },
      { system: STRIPE_SYSTEM.subscriptionSchedule, value: 'sub_sched_1TestMap' },
    ]);
  });

  it('several phases: first phase start .. last phase end', () => {
    const phases = [
      { start: T, end: T + 10 * DAY },
      { start: T + 10 * DAY, end: T + 40 * DAY },
    ];
    const account = accountFor(scheduleEvent('subscription_schedule.updated', 'active', T + 5, { phases }));
    expect(account.servicePeriod).toEqual({ start: iso(T), end: iso(T + 40 * DAY) });
  });

  it('a last phase without end date leaves the period open, until the schedule ends', () => {
    const phases = [
      { start: T, end: T + 10 * DAY },
      { start: T + 10 * DAY, end: null },
    ];
    const active = accountFor(scheduleEvent('subscription_schedule.updated', 'active', T + 5, { phases }));
    assertValidR4(active);
    expect(active.servicePeriod).toEqual({ start: iso(T) });
    const canceled = accountFor(scheduleEvent('subscription_schedule.canceled', 'canceled', T + 20 * DAY, { phases }));
    expect(canceled.servicePeriod).toEqual({ start: iso(T), end: iso(T + 20 * DAY) });
  });

  it('completed and released end at the object’s own completed_at / released_at', () => {
    const completedEvent = scheduleEvent('subscription_schedule.completed', 'completed', T + 30 * DAY);
    // The event is sent a little after the schedule completed: the object's time wins.
    const completed = accountFor({ ...completedEvent, created: T + 30 * DAY + 90 });
    expect(completed.status).toBe('inactive');
    expect(completed.servicePeriod).toEqual({ start: iso(T), end: iso(T + 30 * DAY) });

    const released = accountFor(scheduleEvent('subscription_schedule.released', 'released', T + 3 * DAY));
    assertValidR4(released);
    expect(released.status).toBe('inactive');
    expect(released.servicePeriod).toEqual({ start: iso(T), end: iso(T + 3 * DAY) });
    // After release `subscription` is null and `released_subscription` names it: still the second identifier.
    expect(accountSubscriptionIds(released)).toEqual(['sub_1TestMap']);
    expect(extensionValue(released, EXTENSION.machineState)).toBe('released');
  });

  it('without the object’s own end time, the event time ends the period', () => {
    const event = scheduleEvent('subscription_schedule.canceled', 'canceled', T + 2 * DAY);
    const withoutTime = { ...event, data: { object: { ...event.data.object, canceled_at: null } } };
    const account = accountFor({ ...withoutTime, created: T + 2 * DAY + 7 });
    expect(account.servicePeriod).toEqual({ start: iso(T), end: iso(T + 2 * DAY + 7) });
  });

  it('a schedule canceled before it starts keeps a zero-length period (never start after end)', () => {
    const phases = [{ start: T + DAY, end: T + 31 * DAY }];
    const event = scheduleEvent('subscription_schedule.canceled', 'canceled', T + 60, { phases }, false);
    const account = accountFor(event);
    assertValidR4(account);
    expect(account.servicePeriod).toEqual({ start: iso(T + 60), end: iso(T + 60) });
    expect(account.identifier).toHaveLength(1);
  });

  it('aborted: the object says canceled, the machine says aborted, with a reason', () => {
    const account = accountFor(scheduleEvent('subscription_schedule.aborted', 'canceled', T + 9 * DAY));
    assertValidR4(account);
    expect(account.status).toBe('inactive');
    expect(extensionValue(account, EXTENSION.stripeStatus)).toBe('canceled');
    expect(extensionValue(account, EXTENSION.machineState)).toBe('aborted');
    expect(extensionValue(account, EXTENSION.statusReason)).toBe(ABORTED_REASON);
    expect(account.servicePeriod?.end).toBe(iso(T + 9 * DAY));
  });

  it('the stored Account restores the machine snapshot it was written from', () => {
    for (const event of scheduleLifecycleEvents({ id: 'sub_sched_1Restore' }, 'aborted')) {
      const stage = scheduleStage(event.type, event.data.object.status) as string;
      const { snapshot } = applyScheduleEvent(undefined, { id: event.id, created: event.created, stage });
      expect(scheduleSnapshotOf(mapAccount(event, snapshot, {}))).toEqual(snapshot);
    }
    // Written by something else (no marker): no snapshot, so the first event applies whatever it says.
    expect(scheduleSnapshotOf({ resourceType: 'Account', status: 'inactive' })).toBeUndefined();
  });

  it('keeps subscription ids and foreign identifiers the stored Account already had', () => {
    const existing: Account = {
      resourceType: 'Account',
      status: 'active',
      identifier: [
        { system: STRIPE_SYSTEM.subscriptionSchedule, value: 'sub_sched_1TestMap' },
        { system: STRIPE_SYSTEM.subscription, value: 'sub_1Earlier' },
        { system: 'https://clinic.example/account', value: 'A-7' },
      ],
    };
    const account = accountFor(scheduleEvent('subscription_schedule.updated', 'active', T + 5), undefined, existing);
    // One canonical order (by system, then value), so that arrival order never changes the Account.
    expect(account.identifier).toEqual([
      { system: 'https://clinic.example/account', value: 'A-7' },
      { system: STRIPE_SYSTEM.subscription, value: 'sub_1Earlier' },
      { system: STRIPE_SYSTEM.subscription, value: 'sub_1TestMap' },
      { system: STRIPE_SYSTEM.subscriptionSchedule, value: 'sub_sched_1TestMap' },
    ]);
  });
});

describe('routing of subscription_schedule.*', () => {
  it('the seven event types and any later one reach stripe-subscription-schedule', () => {
    const types = ROUTED_EVENT_TYPES['stripe-subscription-schedule'] ?? [];
    expect([...types].sort()).toEqual(
      ['aborted', 'canceled', 'completed', 'created', 'expiring', 'released', 'updated'].map(
        (t) => `subscription_schedule.${t}`
      )
    );
    for (const type of [...types, 'subscription_schedule.something_new']) {
      expect(routeEvent(type)).toEqual({ target: 'stripe-subscription-schedule' });
    }
  });
});

describe('router + schedule bot: the Account as stored', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('stores a valid Account linked to the Patient and the payee, and archives the event', async () => {
    const project = await createTestProject();
    const [created] = scheduleLifecycleEvents({ id: 'sub_sched_1TestE2E' }, 'completed');
    const response = await project.deliver(created);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const account = await onlyAccount(project);
    expect(response.result).toMatchObject({
      outcome: 'processed',
      target: 'stripe-subscription-schedule',
      resources: [`Account/${account.id}`],
    });
    expect(project.server.repo.rejected).toEqual([]);
    expect(account.status).toBe('on-hold');
    expect(account.subject).toEqual([{ reference: `Patient/${project.patient.id}` }]);
    expect(account.owner).toEqual({ reference: `Organization/${project.payee.id}` });
    const [archive] = await project.server.all<Communication>('Communication');
    expect(archive?.status).toBe('completed');
    expect(archive?.about).toEqual([{ reference: `Account/${account.id}` }]);
  });

  it('a schedule whose customer has no Patient: Account without subject, and a log line says so', async () => {
    const log = vi.spyOn(console, 'log');
    const project = await createTestProject({ withPayee: false });
    const [created] = scheduleLifecycleEvents({ id: 'sub_sched_1NoPatient', customer: 'cus_1Nobody' }, 'released');
    expect((await project.deliver(created)).status).toBe(200);
    const account = await onlyAccount(project);
    expect(account.subject).toBeUndefined();
    expect(account.owner).toBeUndefined();
    expect(account.status).toBe('on-hold');
    const lines = log.mock.calls.map(([line]) => String(line));
    const noted = lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.subscriptionSchedule === 'sub_sched_1NoPatient');
    expect(noted).toMatchObject({ msg: expect.stringMatching(/no Patient/), customerId: 'cus_1Nobody' });
  });

  it('metadata.medplum_patient_id names the Patient when the customer does not', async () => {
    const project = await createTestProject();
    const [created] = scheduleLifecycleEvents(
      { id: 'sub_sched_1Metadata', customer: 'cus_1Other', metadata: { medplum_patient_id: project.patient.id } },
      'completed'
    );
    await project.deliver(created);
    expect((await onlyAccount(project)).subject).toEqual([{ reference: `Patient/${project.patient.id}` }]);
  });

  it('upgrades an Account written by something else (no marker) instead of duplicating it', async () => {
    const project = await createTestProject();
    const foreign = await project.server.seed<Account>({
      resourceType: 'Account',
      status: 'inactive',
      identifier: [{ system: STRIPE_SYSTEM.subscriptionSchedule, value: 'sub_sched_1Foreign' }],
    });
    const [created] = scheduleLifecycleEvents({ id: 'sub_sched_1Foreign' }, 'completed');
    expect((await project.deliver(created)).status).toBe(200);
    const account = await onlyAccount(project);
    expect(account.id).toBe(foreign.id);
    expect(account.status).toBe('on-hold');
  });

  it('ignores, with a reason, a schedule status the machine does not know', async () => {
    const project = await createTestProject();
    const [created] = scheduleLifecycleEvents({ id: 'sub_sched_1Unknown' }, 'completed');
    const odd = { ...created, data: { object: { ...created?.data.object, status: 'paused' } } };
    const response = await project.deliver(odd);
    expect(response.status).toBe(200);
    expect(response.result).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/paused/) });
    expect(await project.server.all<Account>('Account')).toEqual([]);
  });
});
