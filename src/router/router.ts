import {
  badRequest,
  ContentType,
  isOperationOutcome,
  normalizeErrorString,
  OperationOutcomeError,
  type BotEvent,
  type MedplumClient,
} from '@medplum/core';
import type { Communication, OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { BOT_IDENTIFIER_SYSTEM, STRIPE_SYSTEM } from '../constants';
import { readConfig, readSenderConfig, type BotConfig } from '../config';
import { createOnce } from '../fhir/create-once';
import { retryOnConflict } from '../fhir/retry';
import { identifierQuery } from '../fhir/upsert';
import type { TargetResult } from '../handlers/target';
import { logInfo, logWarn } from '../log';
import { archiveUpdatePatch, buildArchive, type ArchiveOutcome } from './archive';
import { authenticate, type Sender } from './authenticate';
import { parseEnvelope, type ParsedEnvelope } from './envelope';
import { routeEvent } from './routes';

export interface RouterResult {
  readonly eventId: string;
  readonly type: string;
  readonly outcome: 'processed' | 'ignored' | 'duplicate';
  readonly target?: string;
  /** References of the resources the event produced. */
  readonly resources: readonly string[];
  readonly reason?: string;
}

/**
 * The router bot: verify the sender, dispatch the event to the bot of its family, then archive it
 * once, in its final status (docs/design.md, "Router"). Every event that passed verification ends
 * archived — completed, ignored, or stopped with the reason — so that it can be replayed.
 */
export async function handleStripeWebhook(medplum: MedplumClient, botEvent: BotEvent): Promise<RouterResult> {
  // Size and JSON checks come first, so nothing oversized is hashed; nothing is logged before the sender is known.
  const envelope = parseEnvelope(botEvent.input);
  // Verification reads only the webhook secrets and operators: a typo in another setting must not lose the event.
  const sender = authenticate(botEvent, envelope.json, readSenderConfig(botEvent.secrets));
  const base = { eventId: envelope.id, type: envelope.type };
  logInfo('stripe event received', { ...base, sender: describeSender(sender) });

  let config: BotConfig;
  try {
    config = readConfig(botEvent.secrets);
  } catch (err) {
    throw await stop(medplum, envelope, 'configuration', err, normalizeErrorString(err));
  }

  const skip = ignoreReason(envelope, config.livemode);
  const route = skip ? { ignored: skip } : routeEvent(envelope.type);
  if ('ignored' in route) {
    const archived = await archiveOutcome(medplum, envelope, {
      status: 'completed',
      resources: [],
      note: `Ignored: ${route.ignored}`,
    });
    if (archived.wasCompleted && sender.kind === 'stripe') {
      return finish({ ...base, outcome: 'duplicate', resources: [], reason: `already archived (${route.ignored})` });
    }
    return finish({ ...base, outcome: 'ignored', resources: [], reason: route.ignored });
  }

  let result: TargetResult;
  try {
    result = (await medplum.executeBot(
      { system: BOT_IDENTIFIER_SYSTEM, value: route.target },
      envelope.event,
      ContentType.JSON
    )) as TargetResult;
  } catch (err) {
    throw await stop(medplum, envelope, 'target-failed', err, `${route.target} failed: ${normalizeErrorString(err)}`);
  }

  const note = result.outcome === 'ignored' ? `Ignored: ${result.reason ?? 'no reason given'}` : result.note;
  const archived = await archiveOutcome(medplum, envelope, {
    status: 'completed',
    resources: result.resources,
    ...(note && { note }),
  });
  if (archived.wasCompleted && sender.kind === 'stripe') {
    // A redelivery: the target ran again (it is idempotent) and changed nothing that the first run had not.
    return finish({
      ...base,
      outcome: 'duplicate',
      target: route.target,
      resources: result.resources,
      reason: 'already processed',
    });
  }
  return finish({
    ...base,
    outcome: result.outcome,
    target: route.target,
    resources: result.resources,
    ...(result.reason && { reason: result.reason }),
  });
}

function ignoreReason(envelope: ParsedEnvelope, livemode: boolean | undefined): string | undefined {
  if (envelope.thin) {
    return `${envelope.type} is a thin event (API v2): it carries no object to map`;
  }
  if (livemode !== undefined && envelope.livemode !== undefined && envelope.livemode !== livemode) {
    return `event is ${envelope.livemode ? 'live' : 'test'} mode, and STRIPE_LIVEMODE accepts only ${livemode ? 'live' : 'test'} mode`;
  }
  return undefined;
}

/**
 * Writes the archive in its final status by a conditional create on the event id (one request).
 * When it existed already, the event was delivered before: a stored archive that had not completed
 * (a failure, or an older router's `in-progress`) is brought to this outcome; a completed one stays.
 */
async function archiveOutcome(
  medplum: MedplumClient,
  envelope: ParsedEnvelope,
  outcome: ArchiveOutcome
): Promise<{ wasCompleted: boolean }> {
  const identifier = { system: STRIPE_SYSTEM.event, value: envelope.id };
  const { resource: stored, created } = await createOnce<Communication>(
    medplum,
    buildArchive(envelope, envelope.json, outcome),
    identifierQuery(identifier)
  );
  if (created) {
    return { wasCompleted: false };
  }
  const patch = archiveUpdatePatch(stored, outcome);
  if (patch) {
    await retryOnConflict(() => medplum.patchResource('Communication', stored.id, patch));
  }
  return { wasCompleted: stored.status === 'completed' };
}

/**
 * Records a failure on the archive (stopped, with the reason) and returns the error to throw: the
 * original status, with a message that names the event and the cause.
 */
async function stop(
  medplum: MedplumClient,
  envelope: ParsedEnvelope,
  code: 'configuration' | 'target-failed',
  err: unknown,
  cause: string
): Promise<OperationOutcomeError> {
  const reason = `event ${envelope.id} (${envelope.type}): ${cause}`;
  logWarn('stripe event failed', { eventId: envelope.id, type: envelope.type, reason });
  await archiveOutcome(medplum, envelope, { status: 'stopped', code, reason }).catch((archiveErr: unknown) =>
    logWarn('could not record the failure on the archive', {
      eventId: envelope.id,
      reason: normalizeErrorString(archiveErr),
    })
  );
  return new OperationOutcomeError(withText(outcomeOf(err), reason));
}

function outcomeOf(err: unknown): OperationOutcome {
  const outcome = err instanceof OperationOutcomeError ? err.outcome : (err as { outcome?: unknown } | null)?.outcome;
  return isOperationOutcome(outcome) ? outcome : badRequest(normalizeErrorString(err));
}

/** The outcome with `text` as its first issue's details (its code, hence its HTTP status, kept). */
function withText(outcome: OperationOutcome, text: string): OperationOutcome {
  const [first, ...rest] = outcome.issue ?? [];
  const issue: OperationOutcomeIssue = { severity: 'error', code: 'invalid', ...first, details: { text } };
  delete issue.diagnostics;
  return { resourceType: 'OperationOutcome', issue: [issue, ...rest] };
}

function finish(result: RouterResult): RouterResult {
  logInfo('stripe event done', { ...result });
  return result;
}

function describeSender(sender: Sender): string {
  return sender.kind === 'stripe' ? `stripe (${sender.mode})` : `operator ${sender.requester}`;
}
