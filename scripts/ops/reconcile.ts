/**
 * `npm run reconcile`: compares, per UTC day, the Stripe objects the suite maps with their FHIR
 * resources (missing, status differs, amount differs), and with `--fix` repairs what differs in
 * three ways, in order: replays the router's archives of those objects, backfills the events Stripe
 * still keeps (30 days), and rebuilds what is still wrong from the current object (an operator
 * event that wraps it). The comparison itself is pure (reconcile-compare.ts).
 */
import type Stripe from 'stripe';
import { describeError, type Logger } from './cli';
import { listStripeEvents, DEFAULT_BACKFILL_DAYS } from './backfill';
import { postEvents, routerPoster, summaryLines, type QueuedEvent, type Summary } from './events';
import type { Progress } from './progress';
import {
  compare,
  dayRows,
  eventObjectIds,
  expectationsOf,
  OBJECT_KINDS,
  rebuildEvent,
  totals,
  type DayRow,
  type Expectation,
  type Finding,
  type FhirTarget,
  type ListedObject,
  type ObjectKind,
  type StoredState,
  type Totals,
} from './reconcile-compare';
import { listStripeObjects, readStored, type Window } from './reconcile-sources';
import { ReconcileState } from './reconcile-state';
import { resolveRouterId, selectArchivedEvents, stateScope, type ReplayContext } from './replay';
import { webhookEventTypes } from './setup-plan';

/** The event types that can carry each kind of object (to list only those from Stripe). */
const EVENT_PREFIXES: Readonly<Record<ObjectKind, readonly string[]>> = {
  invoice: ['invoice.'],
  payment_intent: ['payment_intent.', 'invoice_payment.', 'charge.refund'],
  refund: ['refund.', 'charge.refund'],
  checkout_session: ['checkout.session.'],
  subscription: ['customer.subscription.'],
  customer: ['customer.'],
};

export interface ReconcileContext extends ReplayContext {
  readonly stripe: Stripe;
}

export interface ReconcileOptions extends Window {
  /** Kinds of object to compare (default: all). */
  readonly kinds?: readonly ObjectKind[];
  readonly fix?: boolean;
  readonly dryRun?: boolean;
  readonly concurrency?: number;
  /** Resume state (default none: nothing remembered). */
  readonly statePath?: string;
  readonly routerId?: string;
  readonly configPath?: string;
  readonly signal?: AbortSignal;
  readonly progress?: Progress;
  /** FHIR resources read per search page (default 200). */
  readonly pageSize?: number;
  /** Now, in milliseconds (tests). */
  readonly now?: number;
}

export interface Survey {
  readonly rows: readonly DayRow[];
  readonly totals: Totals;
  readonly findings: readonly Finding[];
}

export interface FixStep {
  readonly step: 'replay' | 'backfill' | 'rebuild';
  readonly summary: Summary;
}

export interface ReconcileReport extends Survey {
  readonly since: string;
  readonly until?: string;
  /** Kinds not compared, and why (e.g. a restricted key without read access). */
  readonly skipped: readonly { readonly kind: ObjectKind; readonly reason: string }[];
  readonly fix?: {
    readonly steps: readonly FixStep[];
    readonly interrupted: boolean;
    /** The comparison again after the fix (absent after an interruption or a dry run). */
    readonly after?: Survey;
  };
}

interface Listed {
  readonly byKind: ReadonlyMap<ObjectKind, readonly ListedObject[]>;
  readonly readAt: number;
  readonly skipped: readonly { readonly kind: ObjectKind; readonly reason: string }[];
}

async function listAll(ctx: ReconcileContext, kinds: readonly ObjectKind[], window: Window): Promise<Listed> {
  const readAt = Math.floor(Date.now() / 1000);
  const byKind = new Map<ObjectKind, ListedObject[]>();
  const skipped: { kind: ObjectKind; reason: string }[] = [];
  for (const kind of kinds) {
    try {
      const objects = await listStripeObjects(ctx.stripe, kind, window, ctx.log);
      ctx.log.info(`reconcile: ${objects.length} ${kind} object(s) in Stripe`);
      byKind.set(kind, objects);
    } catch (err) {
      // A restricted key without read access to one kind: compare the others, and say so.
      if ((err as { statusCode?: number }).statusCode !== 403) {
        throw err;
      }
      const reason = `the Stripe key may not list ${kind} objects (${describeError(err)}): not compared`;
      ctx.log.warn(reason);
      skipped.push({ kind, reason });
    }
  }
  return { byKind, readAt, skipped };
}

function expectationsOfAll(listed: Listed): Expectation[] {
  return [...listed.byKind].flatMap(([kind, objects]) => objects.flatMap((o) => expectationsOf(kind, o)));
}

async function readTargets(
  ctx: ReconcileContext,
  expectations: readonly Expectation[],
  pageSize?: number
): Promise<Map<string, StoredState>> {
  const stored = new Map<string, StoredState>();
  const targets = new Map<string, FhirTarget>();
  for (const e of expectations) {
    targets.set(`${e.resourceType}|${e.system}`, { resourceType: e.resourceType, system: e.system });
  }
  for (const target of targets.values()) {
    await readStored(ctx.medplum, target, stored, pageSize);
  }
  return stored;
}

async function survey(ctx: ReconcileContext, expectations: readonly Expectation[], pageSize?: number): Promise<Survey> {
  const findings = compare(expectations, await readTargets(ctx, expectations, pageSize));
  const rows = dayRows(expectations, findings);
  return { rows, totals: totals(rows), findings };
}

export async function runReconcile(ctx: ReconcileContext, options: ReconcileOptions): Promise<ReconcileReport> {
  const kinds = options.kinds?.length ? options.kinds : OBJECT_KINDS;
  const window: Window = { since: options.since, ...(options.until && { until: options.until }) };
  const listed = await listAll(ctx, kinds, window);
  const expectations = expectationsOfAll(listed);
  const before = await survey(ctx, expectations, options.pageSize);
  const report = {
    since: options.since.toISOString(),
    ...(options.until && { until: options.until.toISOString() }),
    skipped: listed.skipped,
    ...before,
  };
  if (!options.fix || before.findings.length === 0) {
    return report;
  }
  return { ...report, fix: await fix(ctx, options, listed, expectations, before.findings) };
}

async function fix(
  ctx: ReconcileContext,
  options: ReconcileOptions,
  listed: Listed,
  expectations: readonly Expectation[],
  findings: readonly Finding[]
): Promise<NonNullable<ReconcileReport['fix']>> {
  const now = options.now ?? Date.now();
  const routerId = await resolveRouterId(ctx.medplum, options.routerId, options.configPath);
  const windowKey = `${options.since.toISOString()}..${options.until?.toISOString() ?? ''}`;
  const state = ReconcileState.open(
    options.statePath,
    `${stateScope(ctx.baseUrl, ctx.medplum, routerId)}|reconcile`,
    windowKey,
    new Date(now),
    !options.dryRun
  );
  if (state.note) {
    ctx.log.info(`reconcile: ${state.note}`);
  }
  const objects = new Map<string, { kind: ObjectKind; object: ListedObject }>();
  for (const [kind, list] of listed.byKind) {
    for (const object of list) {
      objects.set(object.id, { kind, object });
    }
  }
  const wrong = new Set(findings.map((f) => f.objectId));
  const concerns = (event: { json: string }) =>
    eventObjectIds(JSON.parse(event.json) as { data?: { object?: unknown } }).some((id) => wrong.has(id));
  const steps: FixStep[] = [];
  const post = async (step: FixStep['step'], events: readonly QueuedEvent[]): Promise<boolean> => {
    ctx.log.info(`reconcile --fix (${step}): ${events.length} event(s) to Bot/${routerId}`);
    const summary = await postEvents(events, {
      post: routerPoster(ctx.medplum, routerId),
      concurrency: options.concurrency ?? 4,
      log: ctx.log,
      label: `reconcile ${step}`,
      state,
      ...(options.dryRun && { dryRun: true }),
      ...(options.signal && { signal: options.signal }),
      ...(options.progress && { progress: options.progress }),
    });
    steps.push({ step, summary });
    return !summary.interrupted;
  };
  const interrupted = (): NonNullable<ReconcileReport['fix']> => ({ steps, interrupted: true });

  // 1. The router's own archives of those objects, oldest first.
  const { events: archived } = await selectArchivedEvents(ctx.medplum, { since: options.since });
  const replayed = archived.filter(concerns);
  if (!(await post('replay', replayed))) {
    return interrupted();
  }

  // 2. The events Stripe still keeps (its last 30 days) that the archive does not have.
  const backfillSince = new Date(Math.max(options.since.getTime(), now - DEFAULT_BACKFILL_DAYS * 86_400_000));
  const archivedIds = new Set(archived.map((e) => e.id));
  const wrongKinds = new Set(findings.map((f) => f.kind));
  const types = webhookEventTypes().filter((type) =>
    [...wrongKinds].some((kind) => EVENT_PREFIXES[kind].some((prefix) => type.startsWith(prefix)))
  );
  // No routed type carries these kinds (their bot is not installed): nothing to list.
  const listedEvents = types.length
    ? await listStripeEvents(
        ctx.stripe,
        { since: backfillSince, ...(options.until && { until: options.until }), includeDelivered: true, types },
        ctx.log
      )
    : [];
  if (
    !(await post(
      'backfill',
      listedEvents.filter((e) => !archivedIds.has(e.id) && concerns(e))
    ))
  ) {
    return interrupted();
  }

  // 3. What is still wrong is rebuilt from the object as Stripe has it now.
  const wrongExpectations = expectations.filter((e) => wrong.has(e.objectId));
  const still = options.dryRun
    ? findings
    : compare(wrongExpectations, await readTargets(ctx, wrongExpectations, options.pageSize));
  const rebuild = [...new Set(still.map((f) => f.objectId))]
    .map((id) => objects.get(id))
    .filter((o): o is { kind: ObjectKind; object: ListedObject } => o !== undefined)
    .sort((a, b) => a.object.created - b.object.created)
    .map(({ kind, object }) => {
      const event = rebuildEvent(kind, object, listed.readAt);
      return {
        id: event.id as string,
        type: event.type as string,
        created: listed.readAt,
        json: JSON.stringify(event),
      };
    });
  if (!(await post('rebuild', rebuild))) {
    return interrupted();
  }
  state.finish();
  if (options.dryRun) {
    return { steps, interrupted: false };
  }
  return { steps, interrupted: false, after: await survey(ctx, expectations, options.pageSize) };
}

/** Whether anything is still wrong: the comparison after the fix when there was one. */
export function remainingFindings(report: ReconcileReport): readonly Finding[] {
  return report.fix?.after?.findings ?? report.findings;
}

export function logFixSummary(report: ReconcileReport, log: Logger): void {
  for (const { step, summary } of report.fix?.steps ?? []) {
    // Without the "was interrupted" line of each step: one says it for the run below.
    for (const line of summaryLines({ ...summary, interrupted: false }, `reconcile --fix ${step}`)) {
      log.info(line);
    }
  }
  if (report.fix?.interrupted) {
    log.warn('reconcile was interrupted: run the same command again to resume (what was posted is not posted again)');
  }
}
