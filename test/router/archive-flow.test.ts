import type { Account, Communication, Invoice, OperationOutcome } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BOT_NAME, CODE_SYSTEM, STRIPE_SYSTEM } from '../../src/constants';
import { buildArchive } from '../../src/router/archive';
import { customerEvent } from '../../lib/stripe-events/customer';
import { invoiceLifecycleEvents, stripeBody, wrapEvent } from '../../lib/stripe-events/events';
import type { FixtureShape } from '../../lib/stripe-events/fixtures';
import { createTestProject, CUSTOMER_ID, type TestProject } from '../harness/project';

const [draftEvent, , finalizedEvent] = invoiceLifecycleEvents({ id: 'in_1ArchiveFlow' }, 'paid');
const draft = draftEvent!;
const finalized = finalizedEvent!;

afterEach(() => {
  vi.restoreAllMocks();
});

/** The harness's bots log one JSON line per step; these tests read answers, not logs. */
function quiet(): void {
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
}

async function archiveOf(project: TestProject, eventId: string): Promise<Communication | undefined> {
  return (await project.server.all<Communication>('Communication')).find((c) =>
    c.identifier?.some((i) => i.system === STRIPE_SYSTEM.event && i.value === eventId)
  );
}

function answerText(body: unknown): string {
  return (body as OperationOutcome).issue?.map((i) => i.details?.text ?? '').join(' ') ?? '';
}

function stopCode(archive: Communication | undefined): string | undefined {
  return archive?.statusReason?.coding?.find((c) => c.system === CODE_SYSTEM.archiveOutcome)?.code;
}

describe('router: a configuration typo after verification', () => {
  it('archives the event stopped with the reason, and a replay after the fix recovers it', async () => {
    quiet();
    const project = await createTestProject();
    project.server.setSecret('PAYEE_ORGANIZATION', project.payee.id); // a bare id, not Organization/<id>
    const failed = await project.deliver(draft);
    expect(failed.status).toBe(400);
    const answer = JSON.stringify(failed.body);
    expect(answer).toContain(`event ${draft.id} (invoice.created)`);
    expect(answer).toMatch(/PAYEE_ORGANIZATION must be a reference/);
    expect(await project.server.all('Invoice')).toHaveLength(0);

    const stopped = await archiveOf(project, draft.id);
    expect(stopped?.status).toBe('stopped');
    expect(stopCode(stopped)).toBe('configuration');
    expect(stopped?.statusReason?.text).toMatch(new RegExp(`event ${draft.id}.*PAYEE_ORGANIZATION`));

    project.server.setSecret('PAYEE_ORGANIZATION', `Organization/${project.payee.id}`);
    const replayed = await project.replay(draft);
    expect(replayed.status).toBe(200);
    expect(replayed.result.outcome).toBe('processed');
    const [invoice] = await project.server.all<Invoice>('Invoice');
    expect(invoice?.issuer).toEqual({ reference: `Organization/${project.payee.id}` });
    const completed = await archiveOf(project, draft.id);
    expect(completed?.status).toBe('completed');
    expect(completed?.statusReason).toBeUndefined();
    expect(completed?.about).toEqual([{ reference: `Invoice/${invoice?.id}` }]);
    expect(await project.server.all('Communication')).toHaveLength(1);
  });

  it('takes the same path for a bad STRIPE_LIVEMODE, and Stripe’s own retry after the fix is processed', async () => {
    quiet();
    const project = await createTestProject();
    project.server.setSecret('STRIPE_LIVEMODE', 'yes');
    const failed = await project.deliver(draft);
    expect(failed.status).toBe(400);
    expect(answerText(failed.body)).toMatch(/STRIPE_LIVEMODE must be "true" or "false".*not "yes"/);
    expect(stopCode(await archiveOf(project, draft.id))).toBe('configuration');

    project.server.setSecret('STRIPE_LIVEMODE', 'false');
    const retried = await project.deliver(draft);
    // The first delivery failed, so the retry is not a duplicate: it is what processed the event.
    expect(retried.result.outcome).toBe('processed');
    expect((await archiveOf(project, draft.id))?.status).toBe('completed');
  });

  it('still rejects, unarchived, what fails verification', async () => {
    quiet();
    const project = await createTestProject();
    project.server.setSecret('PAYEE_ORGANIZATION', 'Springfield Clinic');
    const rejected = await project.deliver(draft, { secret: 'whsec_not_ours' });
    expect(rejected.status).toBe(400);
    expect(JSON.stringify(rejected.body)).toMatch(/signature/i);
    expect(await project.server.all('Communication')).toHaveLength(0);
  });
});

describe('router: a failing target', () => {
  it('archives stopped with a reason naming the event and the cause; a redelivery after the cause is gone converges', async () => {
    quiet();
    const project = await createTestProject();
    const invoiceBot = `Bot/${project.server.botId(BOT_NAME.invoice)}`;
    project.server.injectFault({ kind: 500, match: (r) => r.caller === invoiceBot && r.method !== 'GET' });
    const failed = await project.deliver(draft);
    expect(failed.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(failed.body)).toContain(`event ${draft.id} (invoice.created): stripe-invoice failed`);
    const stopped = await archiveOf(project, draft.id);
    expect(stopped?.status).toBe('stopped');
    expect(stopCode(stopped)).toBe('target-failed');
    expect(stopped?.statusReason?.text).toContain(`event ${draft.id} (invoice.created): stripe-invoice failed`);

    project.server.clearFaults();
    const retried = await project.deliver(draft);
    expect(retried.result.outcome).toBe('processed');
    expect((await archiveOf(project, draft.id))?.status).toBe('completed');
    expect(await project.server.all('Invoice')).toHaveLength(1);
  });

  it('names the event and the field when a timestamp is malformed, instead of "Invalid time value"', async () => {
    quiet();
    const project = await createTestProject();
    // A valid finalized invoice, but with its finalized_at as a date string (what a hand-edited replay might hold).
    const object = {
      ...finalized.data.object,
      status_transitions: { ...finalized.data.object.status_transitions, finalized_at: '2025-10-09T08:00:00Z' },
    };
    const event = wrapEvent('invoice.finalized', object as unknown as typeof finalized.data.object, {
      created: finalized.created,
    });
    const failed = await project.deliver(event);
    expect(failed.status).toBe(400);
    const text = JSON.stringify(failed.body);
    expect(text).toContain(`event ${event.id} (invoice.finalized)`);
    expect(text).toContain('invoice.status_transitions.finalized_at');
    expect(text).not.toMatch(/Invalid time value/);
    expect((await archiveOf(project, event.id))?.statusReason?.text).toContain('finalized_at');
  });
});

describe('router: archives an older router left behind', () => {
  it('brings an in-progress archive to completed when the event is delivered again', async () => {
    quiet();
    const project = await createTestProject();
    const old = buildArchive(draft, stripeBody(draft), { status: 'completed', resources: [] });
    await project.server.seed<Communication>({ ...old, status: 'in-progress' });
    const { result } = await project.deliver(draft);
    expect(result.outcome).toBe('processed');
    const archive = await archiveOf(project, draft.id);
    expect(archive?.status).toBe('completed');
    expect(archive?.about).toEqual([{ reference: result.resources[0] }]);
    expect(await project.server.all('Communication')).toHaveLength(1);
  });
});

describe('router: FHIR requests per new-invoice event', () => {
  it.each<[FixtureShape]>([['openapi'], ['openapi-2025-02-24.acacia']])(
    'is at most 4 with the customer’s billing Account stored (%s payload)',
    async (shape) => {
      quiet();
      const project = await createTestProject();
      // The customer's billing Account as the bots write it: its customer.created came first.
      expect((await project.deliver(customerEvent('customer.created', { id: CUSTOMER_ID, shape }))).status).toBe(200);
      expect(await project.server.all<Account>('Account')).toHaveLength(1);
      const [created] = invoiceLifecycleEvents({ id: `in_1Count${shape.length}`, shape, subscription: null }, 'paid');
      const routerBot = `Bot/${project.server.botId(BOT_NAME.router)}`;
      const invoiceBot = `Bot/${project.server.botId(BOT_NAME.invoice)}`;
      const before = project.server.requests.length;
      const { status, result } = await project.deliver(created);
      expect(status).toBe(200);
      expect(result.outcome).toBe('processed');
      const made = project.server.requests.slice(before).filter((r) => r.caller.startsWith('Bot/'));
      const kinds = (caller: string) =>
        made.filter((r) => r.caller === caller).map((r) => `${r.method} ${r.path === '' ? '(batch)' : r.resourceType}`);
      // Router: the dispatch, then the archive's conditional create (a one-entry batch).
      expect(kinds(routerBot)).toEqual(['POST Bot', 'POST (batch)']);
      // Invoice bot: one batched read, one write.
      expect(kinds(invoiceBot)).toEqual(['POST (batch)', 'POST Invoice']);
      expect(made.length).toBeLessThanOrEqual(4);
    }
  );
});
