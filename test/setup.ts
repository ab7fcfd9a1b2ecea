import { loadFhirDefinitions } from '../lib/embedded/fhir-definitions';

loadFhirDefinitions();
