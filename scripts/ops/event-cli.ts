/**
 * The command line replay and backfill share: their options, full `--help`, the selection that
 * names a run in the state file, Ctrl-C handling and the printed summary.
 */
import type { MedplumClient } from '@medplum/core';
import { abortOnSigint, consoleLogger, parseCliArgs, parseWhen, positiveInt, runCli } from './cli';
import { connectMedplum, readMedplumEnv, type MedplumEnv } from './env';
import { summaryLines, type Summary } from './events';
import type { EventFilter, RunOptions } from './replay';
import { defaultStatePath } from './state';

/** Options both commands take. */
const COMMON_OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
  type: { type: 'string', multiple: true },
  event: { type: 'string', multiple: true },
  concurrency: { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  state: { type: 'string' },
  'router-id': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The options text both commands print under their own. */
export function commonHelp(kind: 'replay' | 'backfill', sinceDefault: string): string {
  return `Selection (combine freely):
  --since <when>         events from this time on: an ISO date or date-time (2025-01-31, 2025-01-31T12:00:00Z)
                         or an age (30d, 12h, 45m); ${sinceDefault}
  --until <when>         events before this time (same forms)
  --type <type>          an event type, with * as a wildcard (invoice.*); repeat for several
  --event <evt_…>        one event by id; repeat for several

Running:
  --concurrency <n>      events in flight at once (default 4)
  --dry-run              list what would be posted, post nothing, write no state
  --router-id <id>       the router's Bot id (default: medplum.config.json's, else found by identifier)
  --state <file>         the resume state (default .data/${kind}-state.jsonl)
  --force                post events the resume state says are done
  -h, --help             this text

Resuming: every event that succeeds is written to the state file at once. Ctrl-C lets the events
in flight finish and stops (a second Ctrl-C quits at once); run the same command again to post the
rest. Only an unfinished run with the same selection, server, project and router is resumed: a run
that posted everything closes its state, and the run says what it skips and why.

Environment: MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET (the identity setup
listed in STRIPE_OPERATORS, so that the router accepts unsigned events from it).`;
}

type OptionSpec = { readonly type: 'string' | 'boolean'; readonly multiple?: boolean; readonly short?: string };

export interface EventCommand {
  readonly kind: 'replay' | 'backfill';
  /** The usage lines. */
  readonly usage: string;
  /** Everything `--help` prints after the usage. */
  readonly help: string;
  /** The command's own options (boolean flags), besides the common ones. */
  readonly flags: Readonly<Record<string, OptionSpec>>;
  /** `--since` when not given (backfill: 30 days). */
  readonly defaultSince?: string;
  readonly run: (input: EventCommandInput) => Promise<Summary>;
}

export interface EventCommandInput {
  readonly env: MedplumEnv;
  readonly medplum: MedplumClient;
  readonly filter: EventFilter;
  /** The command's own flags, by name. */
  readonly flags: Readonly<Record<string, boolean>>;
  readonly options: RunOptions;
}

/** Parses the command line, runs the command with Ctrl-C handling, prints the summary; the exit code follows. */
export async function runEventCommand(command: EventCommand, argv = process.argv.slice(2)): Promise<void> {
  await runCli(command.kind, async () => {
    const { values } = parseCliArgs({ args: argv, options: { ...COMMON_OPTIONS, ...command.flags } }, command.usage);
    const value = values as Record<string, string | boolean | string[] | undefined>;
    if (value.help) {
      console.log(`Usage: ${command.usage}\n\n${command.help}`);
      return 0;
    }
    const since = (value.since as string | undefined) ?? command.defaultSince;
    const types = (value.type as string[] | undefined) ?? [];
    const eventIds = (value.event as string[] | undefined) ?? [];
    const filter: EventFilter = {
      ...(since && { since: parseWhen(since, 'since') }),
      ...(value.until !== undefined && { until: parseWhen(value.until as string, 'until') }),
      types,
      eventIds,
    };
    const flags = Object.fromEntries(Object.keys(command.flags).map((name) => [name, value[name] === true]));
    const concurrency = positiveInt(value.concurrency as string | undefined, 'concurrency', 4);
    const env = readMedplumEnv();
    const medplum = await connectMedplum(env, { log: consoleLogger });
    const summary = await command.run({
      env,
      medplum,
      filter,
      flags,
      options: {
        concurrency,
        force: value.force === true,
        dryRun: value['dry-run'] === true,
        statePath: (value.state as string | undefined) ?? defaultStatePath(command.kind),
        selection: selectionKey({ since, until: value.until as string | undefined, types, eventIds, flags }),
        signal: abortOnSigint(),
        ...(typeof value['router-id'] === 'string' && { routerId: value['router-id'] }),
      },
    });
    for (const line of summaryLines(summary, command.kind)) {
      console.log(line);
    }
    return summary.failed || summary.interrupted ? 1 : 0;
  });
}

/** The options that choose the events, as given (so `--since 30d` names the same run an hour later). */
export function selectionKey(selection: {
  readonly since?: string;
  readonly until?: string;
  readonly types: readonly string[];
  readonly eventIds: readonly string[];
  readonly flags: Readonly<Record<string, boolean>>;
}): string {
  return JSON.stringify({
    since: selection.since ?? null,
    until: selection.until ?? null,
    types: [...selection.types].sort(),
    events: [...selection.eventIds].sort(),
    flags: Object.keys(selection.flags)
      .filter((name) => selection.flags[name])
      .sort(),
  });
}
