import type { Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';
import { subscriptionLifecycleEvents } from '../../lib/stripe-events/subscription';
import { createTestProject } from '../harness/project';
import { deliverAll, onlyInvoice } from '../subscription-schedule/helpers';
import { onlyLiveAccount } from './helpers';

const T = 1_760_000_000;

describe('Invoices of a subscription link to its Account whichever arrives first', () => {
  it.each(['openapi', 'openapi-2025-02-24.acacia'] as const)(
    'invoice first (%s): the subscription bot links the waiting Invoice',
    async (shape) => {
      const project = await createTestProject();
      await deliverAll(
        project,
        invoiceLifecycleEvents({ id: 'in_1SubFirst', shape, subscription: 'sub_1InvFirst' }, 'paid', { start: T })
      );
      expect((await onlyInvoice(project)).account).toBeUndefined();
      const [created] = subscriptionLifecycleEvents({ id: 'sub_1InvFirst', shape }, 'trial', { start: T + 10 });
      const response = await project.deliver(created);
      const account = await onlyLiveAccount(project);
      const invoice = await onlyInvoice(project);
      expect(invoice.account).toEqual({ reference: `Account/${account.id}` });
      expect(response.result.resources).toEqual([`Account/${account.id}`, `Invoice/${invoice.id}`]);
    }
  );

  it('subscription first: the invoice bot finds the Account by subscription id', async () => {
    const project = await createTestProject();
    await deliverAll(project, subscriptionLifecycleEvents({ id: 'sub_1AccFirst' }, 'paused-resumed', { start: T }));
    await deliverAll(
      project,
      invoiceLifecycleEvents({ id: 'in_1AccFirst', subscription: 'sub_1AccFirst' }, 'paid', { start: T + 10 })
    );
    const account = await onlyLiveAccount(project);
    expect((await onlyInvoice(project)).account).toEqual({ reference: `Account/${account.id}` });
  });

  it('an Invoice of another subscription is left alone', async () => {
    const project = await createTestProject();
    await deliverAll(
      project,
      invoiceLifecycleEvents({ id: 'in_1Other', subscription: 'sub_1Other' }, 'paid', { start: T })
    );
    await deliverAll(project, subscriptionLifecycleEvents({ id: 'sub_1Mine' }, 'trial', { start: T + 10 }));
    const [invoice] = await project.server.all<Invoice>('Invoice');
    expect(invoice?.account).toBeUndefined();
  });
});
