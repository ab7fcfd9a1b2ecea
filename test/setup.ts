import { loadFhirDefinitions } from './harness/fhir-definitions';

loadFhirDefinitions();
