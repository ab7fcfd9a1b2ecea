/**
 * npm run reconcile -- --since <date> [--fix]: compares Stripe's objects with their FHIR resources
 * per UTC day, and with --fix repairs what differs. See docs/operations.md.
 */
import { abortOnSigint, OpsError, parseCliArgs, parseWhen, positiveInt, runCli, type Logger } from './ops/cli';
import { connectMedplum, readMedplumEnv, readStripeKey } from './ops/env';
import { OBJECT_KINDS, reportLines, type ObjectKind } from './ops/reconcile-compare';
import { logFixSummary, remainingFindings, runReconcile } from './ops/reconcile';
import { defaultReconcileStatePath } from './ops/reconcile-state';
import { createRateLimitedStripe } from './ops/stripe-client';

const USAGE = `npm run reconcile -- --since <date|90d> [--until <date>] [--kind invoice]… [--fix] [--dry-run]
       [--json] [--concurrency 4] [--state <file>] [--router-id <id>]`;

const HELP = `
Compares, per UTC day, the Stripe objects the suite maps (${OBJECT_KINDS.join(', ')}) created in the
window with their FHIR resources: missing, status differs, amount differs. Exit 1 when anything differs.

  --fix          repair: replay the router's archives of those objects, backfill the events Stripe still
                 keeps (30 days), then rebuild what is still wrong from the current object
  --dry-run      with --fix: say what would be posted, post nothing
  --json         the report as JSON on stdout (progress stays on stderr)
  --kind <kind>  only these kinds (repeatable)
  --state <file> resume state (default .data/reconcile-state.jsonl); Ctrl-C leaves it for the same command

Environment: MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET (as for setup) and STRIPE_SECRET_KEY
(a restricted key with read access to the listed objects and Events is enough). See docs/operations.md.`;

/** Progress and warnings go to stderr, so stdout holds only the report. */
const stderrLogger: Logger = {
  info: (message) => console.error(message),
  warn: (message) => console.error(`warning: ${message}`),
};

await runCli('reconcile', async () => {
  const { values } = parseCliArgs(
    {
      args: process.argv.slice(2),
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        kind: { type: 'string', multiple: true },
        fix: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        concurrency: { type: 'string' },
        state: { type: 'string' },
        'router-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    USAGE
  );
  if (values.help) {
    console.log(`Usage: ${USAGE}\n${HELP}`);
    return 0;
  }
  if (!values.since) {
    throw new OpsError(`--since is required (e.g. --since 2025-01-01 or --since 90d)\n\nUsage: ${USAGE}`);
  }
  const kinds = (values.kind ?? []).map((kind) => {
    if (!(OBJECT_KINDS as readonly string[]).includes(kind)) {
      throw new OpsError(`--kind must be one of ${OBJECT_KINDS.join(', ')}, not "${kind}"`);
    }
    return kind as ObjectKind;
  });
  const stripeKey = readStripeKey();
  if (!stripeKey) {
    throw new OpsError('STRIPE_SECRET_KEY is not set: reconcile lists objects and events from Stripe');
  }
  const env = readMedplumEnv();
  const medplum = await connectMedplum(env, { log: stderrLogger });
  const report = await runReconcile(
    {
      medplum,
      baseUrl: env.baseUrl,
      log: stderrLogger,
      stripe: createRateLimitedStripe(stripeKey, { log: stderrLogger }),
    },
    {
      since: parseWhen(values.since, 'since'),
      ...(values.until && { until: parseWhen(values.until, 'until') }),
      kinds,
      fix: values.fix ?? false,
      dryRun: values['dry-run'] ?? false,
      concurrency: positiveInt(values.concurrency, 'concurrency', 4),
      statePath: values.state ?? defaultReconcileStatePath(),
      ...(values['router-id'] && { routerId: values['router-id'] }),
      ...(values.fix && { signal: abortOnSigint() }),
    }
  );
  logFixSummary(report, stderrLogger);
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    for (const line of reportLines(report.rows, report.findings)) {
      console.log(line);
    }
    if (report.fix?.after) {
      console.log('\nafter --fix:');
      for (const line of reportLines(report.fix.after.rows, report.fix.after.findings)) {
        console.log(line);
      }
    }
  }
  return remainingFindings(report).length || report.fix?.interrupted ? 1 : 0;
});
