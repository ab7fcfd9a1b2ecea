import type { Communication } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../lib/embedded/fhir-server';
import type { StripeEvent } from '../../src/stripe/types';
import { createTestProject } from '../harness/project';
import { deliverAll } from '../subscription-schedule/helpers';
import { liveAccounts, onlyLiveAccount, subscriptionAccounts, comparableAccount } from './helpers';
import { chronological, scenarioEvents } from './scenario';

const isAccountWrite = (r: RecordedRequest) => r.resourceType === 'Account' && r.method !== 'GET';

describe('concurrent deliveries of one subscription and its schedule', () => {
  it.each([
    ['past-due-then-canceled', true],
    ['upgraded', true],
    ['trial', false],
  ] as const)(
    'a burst (%s, schedule %s), every event three times at once, gives one Account',
    async (lifecycle, withSchedule) => {
      const events = scenarioEvents(
        {
          lifecycle,
          withSchedule,
          withPatient: true,
          gaps: [1, 0, 1, 1],
          releaseAfter: 2,
          ids: ['Burst0000001', 'Burst0000002', 'Burst0000003', 'Burst0000004', 'Burst0000005'],
          shape: 'openapi',
        },
        `Burst${lifecycle.length}`
      );
      const all: StripeEvent[] = [...events.subscription, ...events.schedule];
      const burst = [...all, ...all, ...all];

      const project = await createTestProject();
      project.server.conflictOnOverlap = true;
      const responses = await Promise.all(burst.map((event) => project.deliver(event)));
      expect(responses.map((r) => r.status)).toEqual(burst.map(() => 200));
      expect(project.server.overlapConflicts).toBeGreaterThan(0);
      expect(await project.server.all<Communication>('Communication')).toHaveLength(all.length);

      const account = await onlyLiveAccount(project);
      const sequential = await createTestProject();
      await deliverAll(sequential, chronological(events));
      expect(comparableAccount(project, account)).toEqual(
        comparableAccount(sequential, await onlyLiveAccount(sequential))
      );
      expect(project.server.repo.rejected).toEqual([]);
    }
  );

  it('concurrent first deliveries naming one subscription by different ids create one Account', async () => {
    const events = scenarioEvents(
      {
        lifecycle: 'trial',
        withSchedule: true,
        withPatient: true,
        gaps: [1, 1],
        releaseAfter: 5,
        ids: ['First0000001', 'First0000002', 'First0000003'],
        shape: 'openapi',
      },
      'FirstBurst'
    );
    // The schedule's start names schedule and subscription; the subscription's creation names both too.
    const firsts: StripeEvent[] = [events.schedule[1] as StripeEvent, events.subscription[0] as StripeEvent];
    const project = await createTestProject();
    project.server.conflictOnOverlap = true;
    const responses = await Promise.all([...firsts, ...firsts, ...firsts].map((e) => project.deliver(e)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(await subscriptionAccounts(project)).toHaveLength(1);
  });
});

describe('faults on the Account writes', () => {
  it('409s on the Account writes are retried inside the bot', async () => {
    const events = scenarioEvents(
      {
        lifecycle: 'paused-resumed',
        withSchedule: false,
        withPatient: true,
        gaps: [1, 1],
        releaseAfter: 0,
        ids: ['Conflict0001', 'Conflict0002', 'Conflict0003'],
        shape: 'openapi-2025-02-24.acacia',
      },
      'Conflict'
    );
    const project = await createTestProject();
    project.server.injectFault({ kind: 409, match: isAccountWrite, times: 2 });
    for (const event of events.subscription) {
      const response = await project.deliver(event);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.result.outcome).toBe('processed');
    }
    expect((await onlyLiveAccount(project)).status).toBe('active');
  });

  it('a 500 on the Account write fails the delivery; a redelivery converges', async () => {
    const events = scenarioEvents(
      {
        lifecycle: 'expired',
        withSchedule: false,
        withPatient: true,
        gaps: [1],
        releaseAfter: 0,
        ids: ['Fault0000001', 'Fault0000002'],
        shape: 'openapi',
      },
      'Fault'
    );
    const project = await createTestProject();
    project.server.injectFault({ kind: 500, match: isAccountWrite });
    const failed = await project.deliver(events.subscription[0]);
    expect(failed.status).toBeGreaterThanOrEqual(400);
    expect(await liveAccounts(project)).toEqual([]);
    project.server.clearFaults();
    await deliverAll(project, events.subscription);
    expect((await onlyLiveAccount(project)).status).toBe('inactive');
  });
});
