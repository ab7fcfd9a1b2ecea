import type { Account, Communication, Invoice, Organization } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { applyJsonPatch, ConstantTimeStore } from '../../scripts/bench/constant-time-client';
import { paymentFamily } from '../../scripts/bench/families/payment';
import { subscriptionScheduleFamily } from '../../scripts/bench/families/subscription-schedule';
import { subscriptionFamily } from '../../scripts/bench/families/subscription';
import type { BenchFamily } from '../../scripts/bench/families/types';
import { constantTimeProject, harnessProject } from '../../scripts/bench/project';
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { searchFirstOfEach } from '../../src/fhir/batch-read';
import { statusOf } from '../../src/fhir/retry';
import { identifierQuery, upsertByIdentifier } from '../../src/fhir/upsert';
import { unlinkedInvoicesQuery } from '../../src/handlers/subscription-schedule';
import type { RouterResult } from '../../src/router/router';
import { STRIPE_CLIENT, WEBHOOK_SECRET } from '../harness/project';
import { signatureHeader, stripeBody } from '../../lib/stripe-events/events';

/**
 * The bench's constant-time store must answer the bots' requests as a Medplum server would, or
 * the CPU figure measures a different program. These check the semantics the bots rely on.
 */
const invoiceId = { system: STRIPE_SYSTEM.invoice, value: 'in_1BenchStore' };
const draft: Invoice = { resourceType: 'Invoice', status: 'draft', identifier: [invoiceId] };

describe('ConstantTimeStore', () => {
  it('answers If-None-Exist and an identifier search with the same single resource', async () => {
    const store = new ConstantTimeStore();
    const medplum = store.client();
    const first = await medplum.createResourceIfNoneExist(draft, identifierQuery(invoiceId));
    const second = await medplum.createResourceIfNoneExist({ ...draft, status: 'issued' }, identifierQuery(invoiceId));
    const found = await medplum.searchOne('Invoice', identifierQuery(invoiceId), { cache: 'no-cache' });
    expect(second.id).toBe(first.id);
    expect(second.status).toBe('draft');
    expect(found?.id).toBe(first.id);
    expect(store.counts().Invoice).toBe(1);
    const other = await medplum.searchOne('Invoice', identifierQuery({ ...invoiceId, value: 'in_other' }), {
      cache: 'no-cache',
    });
    expect(other).toBeUndefined();
  });

  it('updates only with the current version in If-Match and re-indexes the new identifier', async () => {
    const store = new ConstantTimeStore();
    const medplum = store.client();
    const created = await medplum.createResource(draft);
    const updated = await medplum.updateResource<Invoice>(
      { ...created, status: 'issued', identifier: [{ ...invoiceId, value: 'in_1BenchRenamed' }] },
      { headers: { 'If-Match': `W/"${created.meta?.versionId}"` } }
    );
    expect(updated.meta?.versionId).not.toBe(created.meta?.versionId);
    const stale = await medplum
      .updateResource<Invoice>(created, { headers: { 'If-Match': `W/"${created.meta?.versionId}"` } })
      .then(
        () => undefined,
        (err: unknown) => err
      );
    expect(statusOf(stale)).toBe(412);
    expect(await medplum.searchOne('Invoice', identifierQuery(invoiceId), { cache: 'no-cache' })).toBeUndefined();
    const renamed = await medplum.searchOne('Invoice', identifierQuery({ ...invoiceId, value: 'in_1BenchRenamed' }), {
      cache: 'no-cache',
    });
    expect(renamed?.status).toBe('issued');
  });

  it('answers a batch of identifier, _id and _tag searches with the first match of each, as searchFirstOfEach reads it', async () => {
    const store = new ConstantTimeStore();
    const medplum = store.client();
    const tagged = await store.seed<Invoice>({
      ...draft,
      meta: { tag: [{ system: STRIPE_SYSTEM.subscription, code: 'sub_1Bench' }] },
    });
    const account = await store.seed<Account>({
      resourceType: 'Account',
      status: 'active',
      identifier: [{ system: STRIPE_SYSTEM.subscription, value: 'sub_1Bench' }],
    });
    const [byIdentifier, byId, byTag, linkedOnly, none] = await searchFirstOfEach(medplum, [
      `Invoice?${identifierQuery(invoiceId)}&_count=1`,
      `Account?_id=${account.id}&_count=1`,
      `Invoice?_tag=${encodeURIComponent(`${STRIPE_SYSTEM.subscription}|sub_1Bench`)}&account:missing=true`,
      `Invoice?_tag=${encodeURIComponent(`${STRIPE_SYSTEM.subscription}|sub_1Bench`)}&account:missing=false`,
      `Account?${identifierQuery({ system: STRIPE_SYSTEM.subscription, value: 'sub_none' })}`,
    ]);
    expect(byIdentifier?.id).toBe(tagged.id);
    expect(byId?.id).toBe(account.id);
    expect(byTag?.id).toBe(tagged.id);
    expect(linkedOnly).toBeUndefined();
    expect(none).toBeUndefined();
  });

  it('refuses a search it would have to scan, naming the store', async () => {
    const medplum = new ConstantTimeStore().client();
    await expect(medplum.searchOne('Invoice', 'status=draft', { cache: 'no-cache' })).rejects.toThrow(
      /constant-time store does not implement the search parameter status/
    );
  });

  it('applies JSON patches and keeps the result searchable', async () => {
    const store = new ConstantTimeStore();
    const medplum = store.client();
    const archive = await medplum.createResource<Communication>({
      resourceType: 'Communication',
      status: 'in-progress',
      identifier: [{ system: STRIPE_SYSTEM.event, value: 'evt_1Bench' }],
      statusReason: { text: 'earlier failure' },
    });
    const patched = await medplum.patchResource('Communication', archive.id, [
      { op: 'add', path: '/status', value: 'completed' },
      { op: 'remove', path: '/statusReason' },
      { op: 'add', path: '/about', value: [{ reference: 'Invoice/1' }] },
    ]);
    expect(patched).toMatchObject({ status: 'completed', about: [{ reference: 'Invoice/1' }] });
    expect(patched.statusReason).toBeUndefined();
    const found = await medplum.searchOne(
      'Communication',
      identifierQuery({ system: STRIPE_SYSTEM.event, value: 'evt_1Bench' }),
      { cache: 'no-cache' }
    );
    expect(found?.status).toBe('completed');
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'remove', path: '/b' }])).toThrow(/not found/);
  });

  it('lets upsertByIdentifier create once and then update in place', async () => {
    const medplum = new ConstantTimeStore().client();
    const args = { resourceType: 'Invoice' as const, identifier: invoiceId };
    const created = await upsertByIdentifier<Invoice>(medplum, { ...args, build: () => draft });
    const updated = await upsertByIdentifier<Invoice>(medplum, {
      ...args,
      build: () => ({ ...draft, status: 'issued' }),
    });
    expect(created.written && updated.written).toBe(true);
    expect(updated.resource?.id).toBe(created.resource?.id);
    expect(updated.resource?.status).toBe('issued');
  });

  it('runs Bot/$execute in process with the BotEvent, and counts requests by calling bot', async () => {
    const store = new ConstantTimeStore();
    store.setSecret('PAYEE_ORGANIZATION', 'Organization/payee-1');
    const seen: unknown[] = [];
    const targetId = await store.registerBot('bench-target', async (medplum, event) => {
      seen.push({ input: event.input, payee: event.secrets.PAYEE_ORGANIZATION?.valueString });
      await medplum.createResource(draft);
      return { outcome: 'processed', resources: [] };
    });
    await store.registerBot('bench-router', async (medplum, event) =>
      medplum.executeBot({ system: BOT_IDENTIFIER_SYSTEM, value: 'bench-target' }, event.input, 'application/json')
    );
    const result = await store.execute('bench-router', { id: 'evt_1' });
    expect(result).toEqual({ outcome: 'processed', resources: [] });
    expect(seen).toEqual([{ input: { id: 'evt_1' }, payee: 'Organization/payee-1' }]);
    expect(store.requestsByCaller.get(`Bot/${targetId}`)).toBe(1);
    expect([...store.requestsByCaller.values()].reduce((a, b) => a + b, 0)).toBe(2);
  });

  it("answers the schedule bot's link search: unlinked Invoices of a subscription tag, at most _count, gone once linked", async () => {
    const store = new ConstantTimeStore();
    const medplum = store.client();
    const tag = (subscription: string) => ({ tag: [{ system: STRIPE_SYSTEM.subscription, code: subscription }] });
    const waiting = [];
    for (const value of ['in_1BenchA', 'in_1BenchB', 'in_1BenchC']) {
      waiting.push(
        await store.seed<Invoice>({ ...draft, identifier: [{ ...invoiceId, value }], meta: tag('sub_1Bench') })
      );
    }
    await store.seed<Invoice>({
      ...draft,
      identifier: [{ ...invoiceId, value: 'in_1BenchOther' }],
      meta: tag('sub_2'),
    });
    await store.seed<Invoice>({
      ...draft,
      identifier: [{ ...invoiceId, value: 'in_1BenchLinked' }],
      meta: tag('sub_1Bench'),
      account: { reference: 'Account/1' },
    });
    const page = await medplum.searchResources('Invoice', unlinkedInvoicesQuery('sub_1Bench', 2), {
      cache: 'no-cache',
    });
    expect(page.map((i) => i.identifier?.[0]?.value)).toEqual(['in_1BenchA', 'in_1BenchB']);

    const first = waiting[0] as Invoice & { id: string };
    await medplum.updateResource<Invoice>(
      { ...first, account: { reference: 'Account/1' } },
      { headers: { 'If-Match': `W/"${first.meta?.versionId}"` } }
    );
    const rest = await medplum.searchResources('Invoice', unlinkedInvoicesQuery('sub_1Bench', 50), {
      cache: 'no-cache',
    });
    expect(rest.map((i) => i.identifier?.[0]?.value)).toEqual(['in_1BenchB', 'in_1BenchC']);
  });

  it("answers the payment bot's batch read: the payee by _id (empty when it does not exist), pairs and Invoice by identifier", async () => {
    const store = new ConstantTimeStore();
    const medplum = store.client();
    const payee = await store.seed<Organization>({ resourceType: 'Organization', name: 'Springfield Clinic' });
    const invoice = await store.seed<Invoice>(draft);
    const pair = { system: STRIPE_SYSTEM.paymentIntent, value: 'pi_1Bench' };
    const [found, reconciliation, notice, linked, missingPayee] = await searchFirstOfEach(medplum, [
      `Organization?_id=${payee.id}&_count=1`,
      `PaymentReconciliation?${identifierQuery(pair)}&_count=1`,
      `PaymentNotice?${identifierQuery(pair)}&_count=1`,
      `Invoice?${identifierQuery(invoiceId)}&_count=1`,
      'Organization?_id=no-such-payee&_count=1',
    ]);
    expect(found?.id).toBe(payee.id);
    expect(reconciliation).toBeUndefined();
    expect(notice).toBeUndefined();
    expect(linked?.id).toBe(invoice.id);
    expect(missingPayee).toBeUndefined();
  });

  /**
   * The CPU figure is only the bots' cost if the bots do on the store what they do on a server: a
   * stream of each new family, delivered to the validating harness and to the store, must give
   * every delivery the same outcome, resources and number of bot requests.
   */
  it.each([
    // A schedule event that links an Invoice of its subscription to the Account.
    { family: subscriptionScheduleFamily, exercises: ['Account', 'Invoice'] },
    // A payment event that writes a reconciliation and its notice.
    { family: paymentFamily, exercises: ['PaymentReconciliation', 'PaymentNotice'] },
    // A subscription event that links an Invoice of its subscription to the shared Account.
    { family: subscriptionFamily, exercises: ['Account', 'Invoice'] },
  ])(
    'runs the $family.name stream as the validating harness does: same outcome and request count per delivery',
    async ({ family, exercises }: { family: BenchFamily; exercises: string[] }) => {
      const stream = family.makeStream(150, 1);
      const project = await harnessProject(family, true);
      const store = await constantTimeProject(family);
      const harnessRun: unknown[] = [];
      const storeRun: unknown[] = [];
      const botRequests = () =>
        [...store.requestsByCaller].reduce((sum, [caller, n]) => sum + (caller.startsWith('Bot/') ? n : 0), 0);
      for (const event of stream) {
        const before = project.server.requests.length;
        const response = await project.deliver(event);
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        const made = project.server.requests.slice(before).filter((r) => r.caller.startsWith('Bot/')).length;
        harnessRun.push({ event: event.id, ...outcomeOf(response.result), requests: made });

        const storeBefore = botRequests();
        const body = stripeBody(event);
        const result = (await store.execute(BOT_NAME.router, JSON.parse(body), {
          headers: { 'stripe-signature': signatureHeader(body, WEBHOOK_SECRET) },
          requester: STRIPE_CLIENT,
        })) as RouterResult;
        storeRun.push({ event: event.id, ...outcomeOf(result), requests: botRequests() - storeBefore });
      }
      expect(project.server.repo.rejected).toEqual([]);
      expect(storeRun).toEqual(harnessRun);
      // The stream exercised duplicates and the family's characteristic writes.
      const runs = storeRun as ReturnType<typeof outcomeOf>[];
      expect(runs.map((r) => r.outcome)).toContain('duplicate');
      expect(runs.some((r) => r.outcome === 'processed' && exercises.every((t) => r.resources.includes(t)))).toBe(true);
    }
  );
});

/** What a delivery produced, with resource ids reduced to types (the two stores assign their own ids). */
function outcomeOf(result: RouterResult): { outcome: string; resources: string[] } {
  return { outcome: result.outcome, resources: result.resources.map((r) => r.split('/')[0] ?? r) };
}
