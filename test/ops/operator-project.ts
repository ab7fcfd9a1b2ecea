/**
 * A project as setup leaves it (createTestProject: the TypeScript bots behind the router, the
 * secrets), served over HTTP by MedplumFake, with the scripts' login (a ClientApplication) listed
 * in STRIPE_OPERATORS, as setup lists it.
 */
import { http, HttpResponse, type RequestHandler } from 'msw';
import { join } from 'node:path';
import type { setupServer } from 'msw/node';
import { memoryLogger } from '../../scripts/ops/cli';
import { connectMedplum } from '../../scripts/ops/env';
import type { Progress } from '../../scripts/ops/progress';
import type { ReplayContext } from '../../scripts/ops/replay';
import { BOT_NAME } from '../../src/constants';
import { createTestProject, OPERATOR, type TestProject } from '../harness/project';
import { recordingSleep, tempDir } from './helpers';
import { BASE_URL, MedplumFake } from './medplum-fake';

export const silentProgress: Progress = { update: () => undefined, finish: () => undefined };

export interface OperatorProject {
  readonly project: TestProject;
  readonly fake: MedplumFake;
  readonly routerId: string;
  readonly statePath: string;
  /** What the scripts' client was asked to wait by 429 answers. */
  readonly waits: number[];
  context(): Promise<ReplayContext & { log: ReturnType<typeof memoryLogger> }>;
}

export async function operatorProject(msw: ReturnType<typeof setupServer>): Promise<OperatorProject> {
  const project = await createTestProject();
  const fake = await MedplumFake.create({ server: project.server });
  project.server.setSecret('STRIPE_OPERATORS', `${OPERATOR},${fake.operator}`);
  msw.use(...fake.handlers());
  const { waits, sleep } = recordingSleep();
  return {
    project,
    fake,
    routerId: project.server.botId(BOT_NAME.router),
    statePath: join(tempDir(), 'state.jsonl'),
    waits,
    context: async () => {
      const env = fake.env();
      return { medplum: await connectMedplum(env, { sleep }), baseUrl: env.baseUrl, log: memoryLogger() };
    },
  };
}

/** Answers the first `times` posts to `$execute` with 429 and Medplum's RateLimit header; then lets them through. */
export function rateLimitExecute(times: number, header = '"requests";r=0;t=7'): RequestHandler {
  let left = times;
  return http.post(`${BASE_URL}fhir/R4/Bot/:id/$execute`, () => {
    if (left <= 0) {
      return undefined;
    }
    left--;
    return HttpResponse.json(
      {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'throttled', details: { text: 'Too Many Requests' } }],
      },
      { status: 429, headers: { RateLimit: header } }
    );
  });
}

/** Lets posts to `$execute` through, and calls `then` once `count` of them have been seen. */
export function afterExecutes(count: number, then: () => void): RequestHandler {
  let seen = 0;
  return http.post(`${BASE_URL}fhir/R4/Bot/:id/$execute`, () => {
    if (++seen === count) {
      then();
    }
    return undefined;
  });
}
