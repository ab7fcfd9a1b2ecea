/**
 * npm run replay [-- options]: posts archived Stripe events to the router again, as an operator.
 * See docs/deploy.md.
 */
import {
  abortOnSigint,
  consoleLogger,
  EVENT_RUN_OPTIONS,
  parseCliArgs,
  parseWhen,
  positiveInt,
  runCli,
} from './ops/cli';
import { connectMedplum, readMedplumEnv } from './ops/env';
import { summaryLines } from './ops/events';
import { runReplay } from './ops/replay';
import { defaultStatePath } from './ops/state';

const USAGE = `npm run replay -- [--since <date|30d>] [--until <date>] [--type invoice.*]… [--event evt_…]…
       [--failed-only] [--concurrency 4] [--force] [--dry-run] [--state <file>] [--router-id <id>]`;

await runCli('replay', async () => {
  const { values } = parseCliArgs(
    {
      args: process.argv.slice(2),
      options: { ...EVENT_RUN_OPTIONS, 'failed-only': { type: 'boolean' } },
    },
    USAGE
  );
  if (values.help) {
    console.log(`Usage: ${USAGE}`);
    return 0;
  }
  const concurrency = positiveInt(values.concurrency, 'concurrency', 4);
  const filter = {
    ...(values.since && { since: parseWhen(values.since, 'since') }),
    ...(values.until && { until: parseWhen(values.until, 'until') }),
    types: values.type ?? [],
    eventIds: values.event ?? [],
    failedOnly: values['failed-only'] ?? false,
  };
  const env = readMedplumEnv();
  const medplum = await connectMedplum(env, { log: consoleLogger });
  const signal = abortOnSigint();
  const summary = await runReplay({ medplum, baseUrl: env.baseUrl, log: consoleLogger }, filter, {
    concurrency,
    force: values.force ?? false,
    dryRun: values['dry-run'] ?? false,
    statePath: values.state ?? defaultStatePath('replay'),
    signal,
    ...(values['router-id'] && { routerId: values['router-id'] }),
  });
  for (const line of summaryLines(summary, 'replay')) {
    console.log(line);
  }
  return summary.failed || summary.interrupted ? 1 : 0;
});
