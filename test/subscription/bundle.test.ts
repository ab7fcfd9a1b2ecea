import { afterAll, describe, expect, it } from 'vitest';
import { BOT_NAME } from '../../src/constants';
import { invoiceLifecycleEvents, scheduleLifecycleEvents } from '../../lib/stripe-events/events';
import { subscriptionLifecycleEvents } from '../../lib/stripe-events/subscription';
import { loadBundle, readBuiltBundles, RUNTIMES, type LoadedBot } from '../harness/bundle-runtimes';
import { createTestProject } from '../harness/project';
import { deliverAll, onlyInvoice } from '../subscription-schedule/helpers';
import { itemsOf, onlyLiveAccount } from './helpers';

// The built bundle (npm test builds it), run as each Medplum runtime runs it: xstate and all.
const bundle = readBuiltBundles().find((b) => b.entry.name === BOT_NAME.subscription);
const loaded: LoadedBot[] = [];

afterAll(() => {
  for (const bot of loaded) {
    bot.dispose();
  }
});

describe.each(RUNTIMES)('stripe-subscription bundle under %s', (runtime) => {
  it('is listed in medplum.config.json and built', () => {
    expect(bundle?.entry).toEqual({
      name: 'stripe-subscription',
      id: '',
      source: 'bots/stripe-subscription.ts',
      dist: 'dist/stripe-subscription.js',
    });
  });

  it('runs an upgrade beside its schedule and links an Invoice written before it', async () => {
    if (!bundle) {
      throw new Error('stripe-subscription is not built');
    }
    const bot = loadBundle(runtime, bundle);
    loaded.push(bot);
    const project = await createTestProject({ bots: { [BOT_NAME.subscription]: bot.handler } });
    await deliverAll(project, [
      invoiceLifecycleEvents({ id: 'in_1SubBundle', subscription: 'sub_1Bundle' }, 'paid')[0],
    ]);
    const [created, upgraded] = subscriptionLifecycleEvents(
      { id: 'sub_1Bundle', schedule: 'sub_sched_1Bundle', shape: 'openapi-2025-02-24.acacia' },
      'upgraded',
      { start: 1_760_000_001 }
    );
    const [scheduleCreated, scheduleStarted] = scheduleLifecycleEvents(
      { id: 'sub_sched_1Bundle', subscription: 'sub_1Bundle' },
      'released',
      { start: 1_760_000_000 }
    );
    await deliverAll(project, [upgraded, scheduleStarted, created, scheduleCreated]);
    expect(bot.calls()).toBe(2);
    const account = await onlyLiveAccount(project);
    expect(account.status).toBe('active');
    expect(itemsOf(account)).toEqual(['price_1TestPremium × 2']);
    expect((await onlyInvoice(project)).account).toEqual({ reference: `Account/${account.id}` });
  });
});
