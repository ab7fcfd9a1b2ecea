import { normalizeErrorString, OperationOutcomeError, type MedplumClient } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';

/**
 * Runs several searches in one batch request (one round trip instead of one per lookup) and
 * returns the first match of each, in order. A failed entry fails the whole read, so that a bot
 * never acts on a lookup it could not make.
 */
export async function searchFirstOfEach(
  medplum: MedplumClient,
  queries: readonly string[]
): Promise<(Resource | undefined)[]> {
  return (await searchEach(medplum, queries)).map((matches) => matches[0]);
}

/** Like {@link searchFirstOfEach}, with every match of each search (up to its `_count`). */
export async function searchEach(medplum: MedplumClient, queries: readonly string[]): Promise<Resource[][]> {
  if (queries.length === 0) {
    return [];
  }
  const response = await medplum.executeBatch(
    {
      resourceType: 'Bundle',
      type: 'batch',
      entry: queries.map((url) => ({ request: { method: 'GET', url } })),
    },
    { cache: 'no-cache' }
  );
  return queries.map((query, i) => {
    const entry = response.entry?.[i];
    const status = entry?.response?.status ?? '';
    if (!status.startsWith('2')) {
      const outcome = entry?.response?.outcome;
      throw outcome
        ? new OperationOutcomeError(outcome)
        : new Error(`Batch read of ${query} failed: ${normalizeErrorString(status || 'no response')}`);
    }
    return ((entry?.resource as Bundle | undefined)?.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  });
}
