/**
 * Posting Stripe events to the router as an operator (unsigned): the part replay and backfill
 * share. The router accepts an unsigned event from a requester listed in STRIPE_OPERATORS, which
 * setup fills with the identity it runs as.
 */
import { ContentType, type MedplumClient } from '@medplum/core';
import type { RouterResult } from '../../src/router/router';
import { describeError, type Logger } from './cli';
import { createProgress, type Counts, type Progress } from './progress';
import type { DoneState } from './state';

/** One event to post: its id and type (for selection, state and reports) and its JSON text. */
export interface QueuedEvent {
  readonly id: string;
  readonly type: string;
  /** Unix seconds. */
  readonly created?: number;
  readonly json: string;
}

export type Outcome = 'processed' | 'ignored' | 'duplicate' | 'failed';

export interface Failure {
  readonly id: string;
  readonly type: string;
  readonly reason: string;
}

export interface Summary {
  /** Events the selection matched. */
  readonly selected: number;
  /** Matched events skipped because an earlier run posted them (see DoneState). */
  readonly skipped: number;
  readonly processed: number;
  readonly ignored: number;
  readonly duplicate: number;
  readonly failed: number;
  /** Stopped before the end (Ctrl-C): what was not posted is posted by the next run. */
  readonly interrupted: boolean;
  readonly dryRun: boolean;
  readonly failures: readonly Failure[];
}

export type Poster = (event: QueuedEvent) => Promise<Pick<RouterResult, 'outcome'> | unknown>;

/** Posts to `Bot/<router id>/$execute`; a 429 is waited out below this, in the client's fetch. */
export function routerPoster(medplum: MedplumClient, routerId: string): Poster {
  const url = medplum.fhirUrl('Bot', routerId, '$execute');
  // maxRetries 0: MedplumClient's own retry cannot parse Medplum's RateLimit header (rate-limit.ts),
  // and a bot failure is the router's answer, not a transient error.
  return (event) => medplum.post(url, event.json, ContentType.JSON, { maxRetries: 0 });
}

export interface PostOptions {
  readonly post: Poster;
  readonly concurrency: number;
  readonly log: Logger;
  /** What earlier runs posted (DoneState, or reconcile's per-run state). */
  readonly state?: Pick<DoneState, 'has' | 'markDone'> & Partial<Pick<DoneState, 'describe' | 'close'>>;
  /** Post events the state says are done, too. */
  readonly force?: boolean;
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  readonly progress?: Progress;
  /** Label of progress lines. */
  readonly label?: string;
}

function outcomeOf(result: unknown): Outcome {
  const outcome = (result as { outcome?: unknown } | null)?.outcome;
  return outcome === 'ignored' || outcome === 'duplicate' ? outcome : 'processed';
}

/**
 * Posts `events` in order with at most `concurrency` in flight. A failure is counted and the rest
 * go on; every success is written to the state at once, so a rerun resumes where this one stopped.
 */
export async function postEvents(events: readonly QueuedEvent[], options: PostOptions): Promise<Summary> {
  const todo = options.state && !options.force ? events.filter((e) => !options.state?.has(e.id)) : [...events];
  const skipped = events.length - todo.length;
  const counts = { processed: 0, ignored: 0, duplicate: 0, failed: 0 };
  const failures: Failure[] = [];
  const base = {
    selected: events.length,
    skipped,
    dryRun: options.dryRun ?? false,
  };
  for (const line of options.state?.describe?.() ?? []) {
    options.log.info(line);
  }
  if (skipped) {
    options.log.info(`${skipped} selected event(s) already posted by that unfinished run are skipped`);
  }
  if (options.dryRun) {
    options.log.info(`dry run: would post ${todo.length} event(s) to the router`);
    for (const event of todo.slice(0, 20)) {
      options.log.info(`  ${event.id} ${event.type}`);
    }
    if (todo.length > 20) {
      options.log.info(`  … and ${todo.length - 20} more`);
    }
    return { ...base, ...counts, interrupted: false, failures };
  }

  const progress = options.progress ?? createProgress(options.label ?? 'posting');
  const snapshot = (): Counts => ({
    done: counts.processed + counts.ignored + counts.duplicate + counts.failed,
    total: todo.length,
    ...counts,
  });
  let next = 0;
  const worker = async () => {
    while (next < todo.length && !options.signal?.aborted) {
      const event = todo[next++] as QueuedEvent;
      try {
        const outcome = outcomeOf(await options.post(event));
        counts[outcome]++;
        options.state?.markDone(event.id, outcome);
      } catch (err) {
        counts.failed++;
        failures.push({ id: event.id, type: event.type, reason: describeError(err) });
      }
      progress.update(snapshot());
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, todo.length)) }, worker));
  progress.finish(snapshot());
  const interrupted = next < todo.length;
  if (!interrupted && counts.failed === 0) {
    options.state?.close?.();
  }
  return { ...base, ...counts, interrupted, failures };
}

/** The summary as lines for the terminal, with a hint when the failures have a known cause. */
export function summaryLines(summary: Summary, label: string): string[] {
  const lines = [
    `${label}: ${summary.selected} selected, ${summary.skipped} skipped (done before)` +
      (summary.dryRun
        ? ' — dry run, nothing posted'
        : `; processed ${summary.processed}, ignored ${summary.ignored}, duplicate ${summary.duplicate}, failed ${summary.failed}`),
  ];
  for (const failure of summary.failures.slice(0, 20)) {
    lines.push(`  failed ${failure.id} (${failure.type}): ${failure.reason}`);
  }
  if (summary.failures.length > 20) {
    lines.push(`  … and ${summary.failures.length - 20} more failures`);
  }
  const reasons = summary.failures.map((f) => f.reason).join('\n');
  if (reasons.includes('STRIPE_OPERATORS')) {
    lines.push(
      'hint: the router does not know this client as an operator; run `npm run setup`, which adds the identity it ' +
        'runs as to STRIPE_OPERATORS (use the same MEDPLUM_CLIENT_ID for both)'
    );
  }
  if (/\b403\b/.test(reasons)) {
    lines.push("hint: 403 means an AccessPolicy refused a request; run `npm run setup` to reset the bots' policies");
  }
  if (summary.interrupted) {
    lines.push(
      `${label} was interrupted: run it again with the same options to post the rest (what succeeded is not posted again)`
    );
  }
  return lines;
}
