import { normalizeErrorString, OperationOutcomeError, type MedplumClient, type WithId } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { retryOnConflict } from './retry';

export interface CreateOnceResult<T extends Resource> {
  /** The resource now stored: ours, or the one that already matched the query. */
  readonly resource: WithId<T>;
  /** False when a resource matching the query existed already (nothing was written). */
  readonly created: boolean;
}

/**
 * A conditional create (`If-None-Exist`) that also tells whether it created: sent as a one-entry
 * batch, whose entry answers 201 when it created and 200 when the query matched a stored resource
 * (a plain create answers the same body either way). One request; 409/412 are retried.
 */
export async function createOnce<T extends Resource>(
  medplum: MedplumClient,
  resource: T,
  ifNoneExist: string
): Promise<CreateOnceResult<T>> {
  return retryOnConflict(async () => {
    const response = await medplum.executeBatch({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ request: { method: 'POST', url: resource.resourceType, ifNoneExist }, resource }],
    });
    const entry = response.entry?.[0];
    const status = entry?.response?.status ?? '';
    if (!status.startsWith('2') || !entry?.resource) {
      const outcome = entry?.response?.outcome;
      throw outcome
        ? new OperationOutcomeError(outcome)
        : new Error(
            `Conditional create of ${resource.resourceType} failed: ${normalizeErrorString(status || 'no response')}`
          );
    }
    return { resource: entry.resource as WithId<T>, created: status.startsWith('201') };
  });
}
