/**
 * npm run replay [-- options]: posts archived Stripe events to the router again, as an operator.
 * See docs/deploy.md.
 */
import { consoleLogger } from './ops/cli';
import { commonHelp, runEventCommand } from './ops/event-cli';
import { runReplay, STUCK_AFTER_SECONDS } from './ops/replay';

await runEventCommand({
  kind: 'replay',
  usage: `npm run replay -- [--since <date|30d>] [--until <date>] [--type invoice.*]… [--event evt_…]…
       [--failed-only] [--concurrency 4] [--force] [--dry-run] [--state <file>] [--router-id <id>]`,
  help: `Posts archived Stripe events (the router's Communication archives) to the router again, oldest
first, as an operator: the router re-runs each event's bot, whatever the archive says, and marks an
archive that had not completed as completed when the event now succeeds. See docs/deploy.md.

  --failed-only          only archives that did not complete: stopped (a failure, recorded with its
                         reason), and in-progress for more than ${STUCK_AFTER_SECONDS} s (left by an older
                         router that was cut off mid-event)

${commonHelp('replay', 'default: every archived event')}`,
  flags: { 'failed-only': { type: 'boolean' } },
  run: ({ env, medplum, filter, flags, options }) =>
    runReplay(
      { medplum, baseUrl: env.baseUrl, log: consoleLogger },
      { ...filter, failedOnly: flags['failed-only'] ?? false },
      options
    ),
});
