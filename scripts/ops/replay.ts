/**
 * `npm run replay`: posts archived Stripe events (the router's Communications) to the router again,
 * as an operator. Selection by time (`sent`), type (with wildcards, on the category code), event id,
 * or failed only (status `stopped`, or stuck `in-progress`).
 */
import type { MedplumClient } from '@medplum/core';
import type { Communication } from '@medplum/fhirtypes';
import { Buffer } from 'node:buffer';
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { OpsError, type Logger } from './cli';
import { CONFIG_PATH, readConfigBots } from './config-file';
import { postEvents, routerPoster, type QueuedEvent, type Summary } from './events';
import type { Progress } from './progress';
import { DoneState } from './state';

export interface EventFilter {
  readonly since?: Date;
  readonly until?: Date;
  /** Event types; `*` matches any run of characters (`invoice.*`). Empty: every type. */
  readonly types?: readonly string[];
  readonly eventIds?: readonly string[];
}

export interface ReplayFilter extends EventFilter {
  /**
   * Only archives whose processing did not complete: `stopped` (a failure, recorded with its reason),
   * and `in-progress` for longer than STUCK_AFTER_SECONDS (left by an older router that was cut off).
   */
  readonly failedOnly?: boolean;
}

/**
 * An archive `in-progress` for longer than this was left by a run that cannot still be going: a bot
 * run ends within its timeout (10 s by default). The router of this version never writes
 * `in-progress`; older versions did, before the dispatch.
 */
export const STUCK_AFTER_SECONDS = 60;

function isPattern(type: string): boolean {
  return type.includes('*');
}

function patternRegExp(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`
  );
}

/** Whether an event type matches any of the patterns (every type when there are none). */
export function matchesTypes(type: string, patterns: readonly string[] = []): boolean {
  return patterns.length === 0 || patterns.some((p) => patternRegExp(p).test(type));
}

/**
 * The FHIR searches for the archives a filter selects, oldest first: one, or for `failedOnly` two
 * (stopped, and stuck in-progress). Exact types and ids are searched for; wildcard types are matched
 * on the category code afterwards (`matchesTypes`).
 */
export function archiveQueries(filter: ReplayFilter, pageSize = 100, now = Date.now()): URLSearchParams[] {
  const query = new URLSearchParams();
  const ids = filter.eventIds ?? [];
  query.set(
    'identifier',
    ids.length ? ids.map((id) => `${STRIPE_SYSTEM.event}|${id}`).join(',') : `${STRIPE_SYSTEM.event}|`
  );
  if (filter.since) {
    query.append('sent', `ge${filter.since.toISOString()}`);
  }
  if (filter.until) {
    query.append('sent', `lt${filter.until.toISOString()}`);
  }
  const types = filter.types ?? [];
  if (types.length && !types.some(isPattern)) {
    query.set('category', types.map((t) => `${STRIPE_SYSTEM.eventType}|${t}`).join(','));
  }
  query.set('_sort', 'sent');
  query.set('_count', String(pageSize));
  if (!filter.failedOnly) {
    return [query];
  }
  const stopped = new URLSearchParams(query);
  stopped.set('status', 'stopped');
  const stuck = new URLSearchParams(query);
  stuck.set('status', 'in-progress');
  stuck.set('_lastUpdated', `lt${new Date(now - STUCK_AFTER_SECONDS * 1000).toISOString()}`);
  return [stopped, stuck];
}

export type ArchiveRead = { readonly event: QueuedEvent } | { readonly id: string; readonly error: string };

/** The event an archive holds (`payload[0].contentAttachment.data`, base64 JSON). */
export function eventFromArchive(archive: Communication): ArchiveRead {
  const id = archive.identifier?.find((i) => i.system === STRIPE_SYSTEM.event)?.value ?? `Communication/${archive.id}`;
  const data = archive.payload?.[0]?.contentAttachment?.data;
  if (!data) {
    return { id, error: 'the archive holds no event payload' };
  }
  const json = Buffer.from(data, 'base64').toString('utf8');
  let event: { id?: unknown; type?: unknown; created?: unknown };
  try {
    event = JSON.parse(json) as typeof event;
  } catch {
    return { id, error: 'the archived payload is not JSON' };
  }
  if (typeof event.id !== 'string' || typeof event.type !== 'string') {
    return { id, error: 'the archived payload is not a Stripe event' };
  }
  return {
    event: {
      id: event.id,
      type: event.type,
      ...(typeof event.created === 'number' && { created: event.created }),
      json,
    },
  };
}

function archiveType(archive: Communication): string | undefined {
  return archive.category?.flatMap((c) => c.coding ?? []).find((c) => c.system === STRIPE_SYSTEM.eventType)?.code;
}

/**
 * Every archive the filter selects, read to the end before anything is posted (posting changes the
 * archives' status, which would shift the pages of a search still being read), oldest first.
 */
export async function selectArchivedEvents(
  medplum: MedplumClient,
  filter: ReplayFilter,
  pageSize = 100
): Promise<{ events: QueuedEvent[]; unreadable: { id: string; error: string }[] }> {
  const events: QueuedEvent[] = [];
  const unreadable: { id: string; error: string }[] = [];
  const seen = new Set<string>();
  for (const query of archiveQueries(filter, pageSize)) {
    for await (const page of medplum.searchResourcePages('Communication', query)) {
      for (const archive of page) {
        const type = archiveType(archive);
        if (type !== undefined && !matchesTypes(type, filter.types)) {
          continue;
        }
        const read = eventFromArchive(archive);
        if ('error' in read) {
          unreadable.push(read);
        } else if (!seen.has(read.event.id) && matchesTypes(read.event.type, filter.types)) {
          seen.add(read.event.id);
          events.push(read.event);
        }
      }
    }
  }
  // Two searches (failed only) each come oldest first; merge them (a stable sort keeps ties in order).
  events.sort((a, b) => (a.created ?? 0) - (b.created ?? 0));
  return { events, unreadable };
}

/** The router's Bot id: given, else medplum.config.json's, else found by identifier. */
export async function resolveRouterId(
  medplum: MedplumClient,
  routerId: string | undefined,
  configPath = CONFIG_PATH
): Promise<string> {
  if (routerId) {
    return routerId;
  }
  const fromConfig = readConfigBots(configPath).find((b) => b.name === BOT_NAME.router)?.id;
  if (fromConfig) {
    return fromConfig;
  }
  const bot = await medplum.searchOne('Bot', { identifier: `${BOT_IDENTIFIER_SYSTEM}|${BOT_NAME.router}` });
  if (!bot) {
    throw new OpsError(
      `no ${BOT_NAME.router} id in ${configPath} and none in the project: run \`npm run setup\` first`
    );
  }
  return bot.id;
}

export interface RunOptions {
  readonly concurrency?: number;
  readonly force?: boolean;
  readonly dryRun?: boolean;
  /** The state file (default .data/<kind>-state.jsonl); a run without one remembers nothing. */
  readonly statePath?: string;
  readonly routerId?: string;
  readonly configPath?: string;
  /** The options that chose the events, as given: part of the state's scope, so that only the same run resumes. */
  readonly selection?: string;
  readonly signal?: AbortSignal;
  readonly progress?: Progress;
  /** Archives read per search page (default 100). */
  readonly pageSize?: number;
}

export interface ReplayContext {
  readonly medplum: MedplumClient;
  readonly baseUrl: string;
  readonly log: Logger;
}

/** The state scope: one server, one project, one router, one selection. */
export function stateScope(baseUrl: string, medplum: MedplumClient, routerId: string, selection = ''): string {
  return `${baseUrl}|${medplum.getProject()?.id ?? '?'}|Bot/${routerId}|${selection}`;
}

/** Posts `events` to the router as an operator, with the run's concurrency, state and dry-run options. */
export function postToRouter(
  ctx: ReplayContext,
  routerId: string,
  events: readonly QueuedEvent[],
  options: RunOptions,
  label: string
): Promise<Summary> {
  return postEvents(events, {
    post: routerPoster(ctx.medplum, routerId),
    concurrency: options.concurrency ?? 4,
    log: ctx.log,
    label,
    ...(options.statePath && {
      state: DoneState.load(options.statePath, stateScope(ctx.baseUrl, ctx.medplum, routerId, options.selection)),
    }),
    ...(options.force && { force: true }),
    ...(options.dryRun && { dryRun: true }),
    ...(options.signal && { signal: options.signal }),
    ...(options.progress && { progress: options.progress }),
  });
}

export async function runReplay(ctx: ReplayContext, filter: ReplayFilter, options: RunOptions = {}): Promise<Summary> {
  const routerId = await resolveRouterId(ctx.medplum, options.routerId, options.configPath);
  const { events, unreadable } = await selectArchivedEvents(ctx.medplum, filter, options.pageSize);
  ctx.log.info(`replay: ${events.length} archived event(s) selected, to Bot/${routerId}`);
  for (const bad of unreadable) {
    ctx.log.warn(`cannot replay ${bad.id}: ${bad.error}`);
  }
  const summary = await postToRouter(ctx, routerId, events, options, 'replay');
  const failures = [...summary.failures, ...unreadable.map((u) => ({ id: u.id, type: '?', reason: u.error }))];
  return { ...summary, failed: summary.failed + unreadable.length, failures };
}
