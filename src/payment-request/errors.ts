import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';

/** A refused payment request: nothing was created in Stripe. Answers 400. */
export function requestError(message: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(`Payment request refused: ${message}`));
}

/** A failure with its own HTTP status (404, 409, 429, 500…), its text as given. */
export function failure(status: 404 | 409 | 429 | 500, text: string): OperationOutcomeError {
  const ids: Record<number, { id?: string; code: 'not-found' | 'conflict' | 'throttled' | 'exception' }> = {
    404: { id: 'not-found', code: 'not-found' },
    409: { id: 'conflict', code: 'conflict' },
    429: { id: 'too-many-requests', code: 'throttled' },
    500: { code: 'exception' },
  };
  const { id, code } = ids[status] ?? { code: 'exception' };
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    ...(id && { id }),
    issue: [{ severity: 'error', code, details: { text } }],
  };
  return new OperationOutcomeError(outcome);
}
