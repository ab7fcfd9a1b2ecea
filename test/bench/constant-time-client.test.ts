import type { Account, Communication, Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { applyJsonPatch, ConstantTimeStore } from '../../scripts/bench/constant-time-client';
import { BOT_IDENTIFIER_SYSTEM, STRIPE_SYSTEM } from '../../src/constants';
import { searchFirstOfEach } from '../../src/fhir/batch-read';
import { statusOf } from '../../src/fhir/retry';
import { identifierQuery, upsertByIdentifier } from '../../src/fhir/upsert';

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
});
