import { badRequest, OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { requiredBindingErrors } from './bindings';
import { loadFhirDefinitions } from './fhir-definitions';

/** Throws a 400 OperationOutcomeError unless `resource` is valid R4 with its required bindings kept. */
export function assertValidR4(resource: Resource): void {
  loadFhirDefinitions();
  validateResource(resource);
  const bindingErrors = requiredBindingErrors(resource);
  if (bindingErrors.length) {
    throw new OperationOutcomeError(badRequest(`Invalid ${resource.resourceType}: ${bindingErrors.join('; ')}`));
  }
}
