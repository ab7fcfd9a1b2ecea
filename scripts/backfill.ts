/**
 * npm run backfill [-- options]: posts events listed by Stripe's Events API (last 30 days, not
 * delivered, by default) to the router as an operator, oldest first. See docs/deploy.md.
 */
import { DEFAULT_BACKFILL_DAYS, runBackfill } from './ops/backfill';
import {
  abortOnSigint,
  consoleLogger,
  EVENT_RUN_OPTIONS,
  OpsError,
  parseCliArgs,
  parseWhen,
  positiveInt,
  runCli,
} from './ops/cli';
import { connectMedplum, createStripe, readMedplumEnv, readStripeKey } from './ops/env';
import { summaryLines } from './ops/events';
import { defaultStatePath } from './ops/state';

const USAGE = `npm run backfill -- [--since <date|30d>] [--until <date>] [--type invoice.*]… [--event evt_…]…
       [--include-delivered] [--concurrency 4] [--force] [--dry-run] [--state <file>] [--router-id <id>]`;

await runCli('backfill', async () => {
  const { values } = parseCliArgs(
    {
      args: process.argv.slice(2),
      options: { ...EVENT_RUN_OPTIONS, 'include-delivered': { type: 'boolean' } },
    },
    USAGE
  );
  if (values.help) {
    console.log(`Usage: ${USAGE}`);
    return 0;
  }
  const concurrency = positiveInt(values.concurrency, 'concurrency', 4);
  const filter = {
    since: parseWhen(values.since ?? `${DEFAULT_BACKFILL_DAYS}d`, 'since'),
    ...(values.until && { until: parseWhen(values.until, 'until') }),
    types: values.type ?? [],
    eventIds: values.event ?? [],
    includeDelivered: values['include-delivered'] ?? false,
  };
  const env = readMedplumEnv();
  const stripeKey = readStripeKey();
  if (!stripeKey) {
    throw new OpsError(
      'STRIPE_SECRET_KEY is not set: backfill lists events from Stripe (a restricted key with Events read is enough)'
    );
  }
  const medplum = await connectMedplum(env, { log: consoleLogger });
  const signal = abortOnSigint();
  const summary = await runBackfill(
    { medplum, baseUrl: env.baseUrl, log: consoleLogger, stripe: createStripe(stripeKey) },
    filter,
    {
      concurrency,
      force: values.force ?? false,
      dryRun: values['dry-run'] ?? false,
      statePath: values.state ?? defaultStatePath('backfill'),
      signal,
      ...(values['router-id'] && { routerId: values['router-id'] }),
    }
  );
  for (const line of summaryLines(summary, 'backfill')) {
    console.log(line);
  }
  return summary.failed || summary.interrupted ? 1 : 0;
});
