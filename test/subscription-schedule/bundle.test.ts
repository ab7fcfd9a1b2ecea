import { afterAll, describe, expect, it } from 'vitest';
import { BOT_NAME } from '../../src/constants';
import { loadBundle, readBuiltBundles, RUNTIMES, type LoadedBot } from '../harness/bundle-runtimes';
import { createTestProject } from '../harness/project';
import {
  invoiceLifecycleEvents,
  scheduleLifecycleEvents,
  scheduleSubscriptionId,
} from '../../lib/stripe-events/events';
import { deliverAll, onlyAccount, onlyInvoice } from './helpers';

// The built bundle (npm test builds it), run as each Medplum runtime runs it: xstate and all.
const bundle = readBuiltBundles().find((b) => b.entry.name === BOT_NAME.subscriptionSchedule);
const loaded: LoadedBot[] = [];

afterAll(() => {
  for (const bot of loaded) {
    bot.dispose();
  }
});

describe.each(RUNTIMES)('stripe-subscription-schedule bundle under %s', (runtime) => {
  it('is listed in medplum.config.json and built', () => {
    expect(bundle?.entry).toEqual({
      name: 'stripe-subscription-schedule',
      id: '',
      source: 'bots/stripe-subscription-schedule.ts',
      dist: 'dist/stripe-subscription-schedule.js',
    });
  });

  it('runs a lifecycle and links an Invoice written before it', async () => {
    if (!bundle) {
      throw new Error('stripe-subscription-schedule is not built');
    }
    const bot = loadBundle(runtime, bundle);
    loaded.push(bot);
    const project = await createTestProject({ bots: { [BOT_NAME.subscriptionSchedule]: bot.handler } });
    const schedule = { id: 'sub_sched_1Bundle' };
    await deliverAll(project, [
      invoiceLifecycleEvents({ id: 'in_1Bundle', subscription: scheduleSubscriptionId(schedule) }, 'paid')[0],
    ]);
    const events = scheduleLifecycleEvents(schedule, 'aborted');
    await deliverAll(project, [events[2], events[0], events[1]]);
    expect(bot.calls()).toBe(3);
    const account = await onlyAccount(project);
    expect(account.status).toBe('inactive');
    expect((await onlyInvoice(project)).account).toEqual({ reference: `Account/${account.id}` });
  });
});
