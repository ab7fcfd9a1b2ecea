import { deepEquals, type MedplumClient, type WithId } from '@medplum/core';
import type { Identifier, Resource, ResourceType } from '@medplum/fhirtypes';
import { retryOnConflict, type RetryPolicy } from './retry';

export interface UpsertArgs<T extends Resource> {
  readonly resourceType: T['resourceType'] & ResourceType;
  /** The business identifier that names the resource (e.g. `https://stripe.com/invoice/id|in_…`). */
  readonly identifier: Required<Pick<Identifier, 'system' | 'value'>>;
  /** The search that finds it, when not the identifier alone (e.g. an OR over several systems). */
  readonly query?: string;
  /**
   * Builds the resource to store from the stored one (undefined when none), or returns undefined to
   * leave the stored one as it is (a stale or duplicate event). Called again after every conflict.
   */
  readonly build: (existing: WithId<T> | undefined) => T | undefined;
  /** The stored resource as a batched read already found it, used for the first attempt only. */
  readonly preloaded?: { readonly resource: WithId<T> | undefined };
  readonly retryPolicy?: RetryPolicy;
}

export interface UpsertResult<T extends Resource> {
  readonly resource: WithId<T> | undefined;
  readonly written: boolean;
}

export function identifierQuery(identifier: Pick<Identifier, 'system' | 'value'>): string {
  return `identifier=${encodeURIComponent(`${identifier.system}|${identifier.value}`)}`;
}

/**
 * Create-or-update by identifier that is safe under concurrent deliveries (docs/design.md, "Ordering, duplicates, concurrency"):
 * creates with `If-None-Exist`, updates with `If-Match` on the version read, and on a conflict
 * (409, 412, or a concurrent create that won) re-reads and re-applies, within the retry bound.
 */
export async function upsertByIdentifier<T extends Resource>(
  medplum: MedplumClient,
  args: UpsertArgs<T>
): Promise<UpsertResult<T>> {
  let preloaded = args.preloaded;
  return retryOnConflict(async () => {
    const existing = preloaded ? preloaded.resource : await readByIdentifier<T>(medplum, args);
    preloaded = undefined;
    const next = args.build(existing);
    if (!next) {
      return { resource: existing, written: false };
    }
    if (existing) {
      const updated = await medplum.updateResource<T>(
        { ...next, id: existing.id },
        { headers: { 'If-Match': `W/"${existing.meta?.versionId}"` } }
      );
      return { resource: updated, written: true };
    }
    const created = await medplum.createResourceIfNoneExist<T>(next, args.query ?? identifierQuery(args.identifier));
    if (!sameContent(created, next)) {
      // Another delivery created it between our read and our create: apply ours on top of theirs.
      throw new ConcurrentCreateError();
    }
    return { resource: created, written: true };
  }, args.retryPolicy);
}

export async function readByIdentifier<T extends Resource>(
  medplum: MedplumClient,
  args: Pick<UpsertArgs<T>, 'resourceType' | 'identifier' | 'query'>
): Promise<WithId<T> | undefined> {
  const found = await medplum.searchOne(args.resourceType, args.query ?? identifierQuery(args.identifier), {
    cache: 'no-cache',
  });
  return found as WithId<T> | undefined;
}

/** True when the stored resource holds what was sent (id and meta aside). */
export function sameContent(stored: Resource, sent: Resource): boolean {
  const { id: _id, meta: _meta, ...storedContent } = stored;
  const { id: _sentId, meta: _sentMeta, ...sentContent } = sent;
  return deepEquals(storedContent, sentContent);
}

/** Shaped like a 409 so that `retryOnConflict` treats it as one. */
export class ConcurrentCreateError extends Error {
  readonly outcome = {
    resourceType: 'OperationOutcome' as const,
    id: 'conflict',
    issue: [{ severity: 'error' as const, code: 'conflict' as const, details: { text: 'Created concurrently' } }],
  };
  constructor() {
    super('Resource was created concurrently');
  }
}
