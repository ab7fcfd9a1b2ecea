/**
 * npm run backfill [-- options]: posts events listed by Stripe's Events API (last 30 days, not
 * delivered, by default) to the router as an operator, oldest first. See docs/deploy.md.
 */
import { DEFAULT_BACKFILL_DAYS, runBackfill } from './ops/backfill';
import { consoleLogger, OpsError } from './ops/cli';
import { createStripe, readStripeKey } from './ops/env';
import { commonHelp, runEventCommand } from './ops/event-cli';

await runEventCommand({
  kind: 'backfill',
  usage: `npm run backfill -- [--since <date|30d>] [--until <date>] [--type invoice.*]… [--event evt_…]…
       [--include-delivered] [--concurrency 4] [--force] [--dry-run] [--state <file>] [--router-id <id>]`,
  help: `Lists events from Stripe's Events API and posts them to the router as an operator, oldest first.
This recovers events the router never saw, rejected, or lost mid-event (no archive). Stripe keeps
events for ${DEFAULT_BACKFILL_DAYS} days. Without --type, only the event types the router subscribes to are
posted. See docs/deploy.md.

Needs STRIPE_SECRET_KEY (a restricted key with Events read is enough).

  --include-delivered    also events Stripe delivered successfully (default: only those it failed to
                         deliver, delivery_success=false)

${commonHelp('backfill', `default: ${DEFAULT_BACKFILL_DAYS}d`)}`,
  flags: { 'include-delivered': { type: 'boolean' } },
  defaultSince: `${DEFAULT_BACKFILL_DAYS}d`,
  run: ({ env, medplum, filter, flags, options }) => {
    const stripeKey = readStripeKey();
    if (!stripeKey) {
      throw new OpsError(
        'STRIPE_SECRET_KEY is not set: backfill lists events from Stripe (a restricted key with Events read is enough)'
      );
    }
    return runBackfill(
      { medplum, baseUrl: env.baseUrl, log: consoleLogger, stripe: createStripe(stripeKey) },
      { ...filter, since: filter.since ?? new Date(), includeDelivered: flags['include-delivered'] ?? false },
      options
    );
  },
});
