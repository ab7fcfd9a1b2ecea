import { ContentType, normalizeErrorString, type BotEvent, type MedplumClient, type WithId } from '@medplum/core';
import type { Communication } from '@medplum/fhirtypes';
import { BOT_IDENTIFIER_SYSTEM, STRIPE_SYSTEM } from '../constants';
import { readConfig } from '../config';
import { retryOnConflict } from '../fhir/retry';
import { identifierQuery } from '../fhir/upsert';
import type { TargetResult } from '../handlers/target';
import { logInfo, logWarn } from '../log';
import { buildArchive, completionPatch, failurePatch } from './archive';
import { authenticate, type Sender } from './authenticate';
import { parseEnvelope, type ParsedEnvelope } from './envelope';
import { routeEvent } from './routes';

export interface RouterResult {
  readonly eventId: string;
  readonly type: string;
  readonly outcome: 'processed' | 'ignored' | 'duplicate';
  readonly target?: string;
  /** References of the resources the event produced (or, for a duplicate, had produced). */
  readonly resources: readonly string[];
  readonly reason?: string;
}

/**
 * The router bot: verify the sender, archive the event, dispatch it to the bot of its family,
 * and record the outcome on the archive (DESIGN section 7).
 */
export async function handleStripeWebhook(medplum: MedplumClient, botEvent: BotEvent): Promise<RouterResult> {
  const config = readConfig(botEvent.secrets);
  // Size and JSON checks come first, so nothing oversized is hashed; nothing is logged before the sender is known.
  const envelope = parseEnvelope(botEvent.input);
  const sender = authenticate(botEvent, envelope.json, config);
  const base = { eventId: envelope.id, type: envelope.type };
  logInfo('stripe event received', { ...base, sender: describeSender(sender) });

  const skip = ignoreReason(envelope, config.livemode);
  if (skip) {
    await archiveOnce(medplum, envelope, 'completed', `Ignored: ${skip}`);
    return finish({ ...base, outcome: 'ignored', resources: [], reason: skip });
  }
  const route = routeEvent(envelope.type);
  if ('ignored' in route) {
    await archiveOnce(medplum, envelope, 'completed', `Ignored: ${route.ignored}`);
    return finish({ ...base, outcome: 'ignored', resources: [], reason: route.ignored });
  }

  const archive = await archiveOnce(medplum, envelope, 'in-progress');
  if (archive.status === 'completed' && sender.kind === 'stripe') {
    const resources = (archive.about ?? []).flatMap((r) => (r.reference ? [r.reference] : []));
    return finish({ ...base, outcome: 'duplicate', target: route.target, resources, reason: 'already processed' });
  }

  let result: TargetResult;
  try {
    result = (await medplum.executeBot(
      { system: BOT_IDENTIFIER_SYSTEM, value: route.target },
      envelope.event,
      ContentType.JSON
    )) as TargetResult;
  } catch (err) {
    const reason = `${route.target} failed: ${normalizeErrorString(err)}`;
    logWarn('stripe event failed', { ...base, target: route.target, reason });
    await patchArchive(medplum, archive, failurePatch(reason)).catch((patchErr: unknown) =>
      logWarn('could not record the failure on the archive', { ...base, reason: normalizeErrorString(patchErr) })
    );
    throw err;
  }

  const note = result.outcome === 'ignored' ? `Ignored: ${result.reason ?? 'no reason given'}` : result.note;
  await patchArchive(medplum, archive, completionPatch(archive, result.resources, note));
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

/** Writes the archive once per event id; a redelivery gets the stored one back. */
async function archiveOnce(
  medplum: MedplumClient,
  envelope: ParsedEnvelope,
  status: 'in-progress' | 'completed',
  note?: string
): Promise<WithId<Communication>> {
  const identifier = { system: STRIPE_SYSTEM.event, value: envelope.id };
  return retryOnConflict(() =>
    medplum.createResourceIfNoneExist(buildArchive(envelope, envelope.json, status, note), identifierQuery(identifier))
  );
}

function patchArchive(
  medplum: MedplumClient,
  archive: WithId<Communication>,
  ops: ReturnType<typeof failurePatch>
): Promise<unknown> {
  return retryOnConflict(() => medplum.patchResource('Communication', archive.id, ops));
}

function finish(result: RouterResult): RouterResult {
  logInfo('stripe event done', { ...result });
  return result;
}

function describeSender(sender: Sender): string {
  return sender.kind === 'stripe' ? `stripe (${sender.mode})` : `operator ${sender.requester}`;
}
