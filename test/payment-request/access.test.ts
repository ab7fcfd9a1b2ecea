import { accessPolicySupportsInteraction, satisfiedAccessPolicy } from '@medplum/core';
import type { Bot, ResourceType } from '@medplum/fhirtypes';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { botAccessPolicy, paymentRequestCallerPolicy, requiredAccess } from '../../scripts/ops/access-policies';
import { BOT_NAME } from '../../src/constants';
import { recordCalls } from '../ops/helpers';
import { createRequestProject, seedInvoice, seedPatient, useStripeFake } from './helpers';

useStripeFake({ beforeAll, afterAll, beforeEach });

describe('least privilege: the payment-request bot', () => {
  it('stays inside its AccessPolicy (Patient read/search/update, Invoice read/search)', async () => {
    const project = await createRequestProject();
    const calls = recordCalls(project.server);
    const patient = await seedPatient(project);
    const invoice = await seedInvoice(project, patient.id, { value: 42, currency: 'USD' });
    // A Patient with a customer, one without (identifier added), an Invoice request, and a concurrent
    // pair whose Patient update conflicts (re-read after 412/409).
    await project.requestOk({ patient: `Patient/${project.patient.id}`, amount: 5000 });
    await project.requestOk({ patient: `Patient/${patient.id}`, invoice: `Invoice/${invoice.id}` });
    const other = await seedPatient(project);
    project.server.conflictOnOverlap = true;
    await Promise.all([
      project.requestOk({ patient: `Patient/${other.id}`, amount: 5000 }),
      project.requestOk({ patient: `Patient/${other.id}`, amount: 5000 }),
    ]);

    const caller = `Bot/${project.server.botId(BOT_NAME.paymentRequest)}`;
    const made = calls.filter((c) => c.caller === caller);
    expect(made.length).toBeGreaterThan(5);
    const policy = botAccessPolicy(BOT_NAME.paymentRequest);
    const needed = made.flatMap((c) => requiredAccess(c));
    const refused = needed.filter(
      (a) => !accessPolicySupportsInteraction(policy, a.interaction, a.resourceType as ResourceType)
    );
    expect(refused).toEqual([]);
    const used = new Set(needed.map((a) => `${a.interaction} ${a.resourceType}`));
    // Every write the policy grants is one the bot needed (lookups grant search and read together).
    const grantedWrites = (policy.resource ?? []).flatMap((r) =>
      (r.interaction ?? []).filter((i) => i === 'create' || i === 'update').map((i) => `${i} ${r.resourceType}`)
    );
    expect(grantedWrites).toEqual(['update Patient']);
    expect(used.has('update Patient')).toBe(true);
    // The only write is the Patient update, conditional on the version read.
    const writes = made.filter((c) => c.method !== 'GET' && c.path !== '');
    expect(writes.map((w) => `${w.method} ${w.path.split('/')[0]}`)).toEqual(writes.map(() => 'PUT Patient'));
    expect(writes.every((w) => /^W\/"/.test(w.headers?.['if-match'] ?? ''))).toBe(true);
  });

  it('may be run by whoever holds the "request payments" policy, which opens no other bot', async () => {
    const project = await createRequestProject();
    const botId = project.server.botId(BOT_NAME.paymentRequest);
    const policy = paymentRequestCallerPolicy(botId);
    expect(requiredAccess({ method: 'POST', path: `Bot/${botId}/$execute` })).toEqual([
      { resourceType: 'Bot', interaction: 'read', id: botId },
    ]);
    const bot = await project.server.repo.readResource<Bot>('Bot', botId);
    expect(satisfiedAccessPolicy(bot, 'read', policy)).toBeDefined();
    const router = await project.server.repo.readResource<Bot>('Bot', project.server.botId(BOT_NAME.router));
    expect(satisfiedAccessPolicy(router, 'read', policy)).toBeUndefined();
    expect(accessPolicySupportsInteraction(policy, 'read', 'Patient')).toBe(false);
  });
});
