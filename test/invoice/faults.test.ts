import type { Communication, Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { BOT_NAME } from '../../src/constants';
import { stableNames } from '../harness/names';
import { comparable } from '../harness/normalize';
import { createTestProject, type TestProject } from '../harness/project';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';
import type { FaultKind, RecordedRequest } from '../../lib/embedded/fhir-server';

const events = invoiceLifecycleEvents({ id: 'in_1Faults' }, 'paid').slice(0, 3);
const last = events[2]!;

/** The bots' own requests for one delivery (not the test's incoming POST). */
const byBots = (r: RecordedRequest) => r.caller.startsWith('Bot/');

async function expectedState(): Promise<unknown> {
  const project = await createTestProject();
  for (const event of events) {
    await project.deliver(event);
  }
  return snapshot(project);
}

async function snapshot(project: TestProject): Promise<unknown> {
  const invoices = await project.server.all<Invoice>('Invoice');
  expect(invoices).toHaveLength(1);
  return comparable(invoices[0], await stableNames(project));
}

async function countBotRequests(): Promise<number> {
  const project = await createTestProject();
  for (const event of events.slice(0, 2)) {
    await project.deliver(event);
  }
  const before = project.server.requests.filter(byBots).length;
  await project.deliver(last);
  return project.server.requests.filter(byBots).length - before;
}

describe('faults: a FHIR call that keeps failing on the Nth request of a delivery', () => {
  it.each<[FaultKind]>([[500], ['timeout'], [412], [409]])(
    '%s → the router answers non-2xx, the archive records it, and a redelivery converges',
    async (kind) => {
      const expected = await expectedState();
      const requestsPerDelivery = await countBotRequests();
      expect(requestsPerDelivery).toBeGreaterThanOrEqual(4);

      for (let nth = 1; nth <= requestsPerDelivery; nth++) {
        const project = await createTestProject();
        for (const event of events.slice(0, 2)) {
          await project.deliver(event);
        }
        const before = project.server.requests.filter(byBots).length;
        let failedRequest: RecordedRequest | undefined;
        // The nth request fails, and so does every retry of that same request; other requests pass.
        project.server.injectFault({
          kind,
          match: (r) => {
            if (failedRequest) {
              return r.method === failedRequest.method && r.path === failedRequest.path;
            }
            if (byBots(r) && project.server.requests.filter(byBots).indexOf(r) - before + 1 === nth) {
              failedRequest = r;
              return true;
            }
            return false;
          },
        });
        const failed = await project.deliver(last);
        expect(failed.status, `fault ${kind} at bot request ${nth}`).toBeGreaterThanOrEqual(400);

        const invoiceBot = `Bot/${project.server.botId(BOT_NAME.invoice)}`;
        const archive = (await project.server.all<Communication>('Communication')).find(
          (c) => c.identifier?.[0]?.value === last.id
        );
        // The router writes the archive once, after the dispatch, in a one-entry batch: when batches
        // keep failing (`path` '' is a batch) or the archive write itself fails, no archive is left,
        // and the redelivery below is what recovers the event.
        if (failedRequest?.path === '') {
          expect(archive).toBeUndefined();
        } else if (failedRequest?.caller === invoiceBot || failedRequest?.path.includes('$execute')) {
          expect(archive?.status).toBe('stopped');
          expect(archive?.statusReason?.text).toContain(`event ${last.id} (${last.type}): stripe-invoice failed`);
        }

        project.server.clearFaults();
        const retried = await project.deliver(last);
        expect(retried.status, `redelivery after fault ${kind} at ${nth}`).toBe(200);
        expect(await snapshot(project)).toEqual(expected);
        const archives = await project.server.all<Communication>('Communication');
        expect(archives.every((a) => a.status === 'completed')).toBe(true);
      }
    }
  );
});
