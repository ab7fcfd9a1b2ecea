import type { Organization, Patient } from '@medplum/fhirtypes';
import { BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import {
  createTestProject,
  CUSTOMER_ID,
  OPERATOR,
  SOURCE_BOTS,
  WEBHOOK_SECRET,
  type TestProject,
} from '../../test/harness/project';
import type { BotHandler } from '../../lib/embedded/fhir-server';
import { ConstantTimeStore } from './constant-time-client';
import type { BenchFamily } from './families';

/** The handler of each of the family's bots, from the sources the harness registers. */
export function familyHandlers(family: BenchFamily): Map<string, BotHandler> {
  const handlers = new Map<string, BotHandler>();
  for (const name of family.bots) {
    const handler = SOURCE_BOTS[name];
    if (!handler) {
      throw new Error(
        `Family ${family.name} needs bot ${name}, which test/harness/project.ts SOURCE_BOTS does not register`
      );
    }
    handlers.set(name, handler);
  }
  if (family.bots[0] !== BOT_NAME.router) {
    throw new Error(`Family ${family.name} must list ${BOT_NAME.router} first: Stripe posts every event to it`);
  }
  return handlers;
}

/** The in-process harness (FhirTestServer over Medplum's in-memory repository), as setup leaves it. */
export async function harnessProject(family: BenchFamily, validate: boolean): Promise<TestProject> {
  familyHandlers(family);
  const project = await createTestProject({ validate });
  await family.seed?.(project.server, { patientId: project.patient.id, payeeId: project.payee.id });
  return project;
}

/** The same project on the constant-time store: the family's bots, payee, Patient and secrets. */
export async function constantTimeProject(family: BenchFamily): Promise<ConstantTimeStore> {
  const store = new ConstantTimeStore();
  for (const [name, handler] of familyHandlers(family)) {
    await store.registerBot(name, handler);
  }
  const payee = await store.seed<Organization>({ resourceType: 'Organization', name: 'Springfield Clinic' });
  const patient = await store.seed<Patient>({
    resourceType: 'Patient',
    name: [{ given: ['Marge'], family: 'Simpson' }],
    identifier: [{ system: STRIPE_SYSTEM.customer, value: CUSTOMER_ID }],
  });
  store.setSecret('STRIPE_WEBHOOK_SECRET', WEBHOOK_SECRET);
  store.setSecret('STRIPE_OPERATORS', OPERATOR);
  store.setSecret('PAYEE_ORGANIZATION', `Organization/${payee.id}`);
  await family.seed?.(store, { patientId: patient.id, payeeId: payee.id });
  return store;
}

/** Resources stored in Medplum's in-memory repository, by type, and their versions in all. */
export function repositorySize(repo: object): { byType: Record<string, number>; total: number; versions: number } {
  // MemoryRepository keeps `resources` and `history` private; a search would clone every resource.
  const { resources, history } = repo as { resources?: unknown; history?: unknown };
  const byType: Record<string, number> = {};
  let total = 0;
  if (resources instanceof Map) {
    for (const [type, byId] of resources as Map<string, Map<string, unknown>>) {
      byType[type] = byId.size;
      total += byId.size;
    }
  }
  let versions = 0;
  if (history instanceof Map) {
    for (const byId of (history as Map<string, Map<string, unknown[]>>).values()) {
      for (const list of byId.values()) {
        versions += list.length;
      }
    }
  }
  return { byType, total, versions };
}
