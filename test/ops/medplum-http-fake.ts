/**
 * A Medplum server on 127.0.0.1 (node:http) for the Medplum CLI, which runs as a subprocess and so
 * cannot be reached by msw: client login, `auth/me`, Bot read and update, Binary upload and
 * `Bot/$deploy`. Every request is recorded.
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpCall {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

export class MedplumHttpFake {
  readonly calls: HttpCall[] = [];
  readonly bots = new Map<string, Record<string, unknown>>();
  readonly binaries = new Map<string, string>();
  /** Code deployed per bot id, in order. */
  readonly deployed: { botId: string; code: string; filename: string }[] = [];
  readonly clientId = randomUUID();
  readonly clientSecret = 'cli-secret';
  /** False: `$deploy` answers 400 "Bots not enabled", as a server does for a project without the bots feature. */
  botsEnabled = true;
  private server?: Server;
  private baseUrl = '';

  addBot(name: string): string {
    const id = randomUUID();
    this.bots.set(id, { resourceType: 'Bot', id, name, meta: { versionId: '1' } });
    return id;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  env(home: string): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: home,
      MEDPLUM_BASE_URL: this.baseUrl,
      MEDPLUM_CLIENT_ID: this.clientId,
      MEDPLUM_CLIENT_SECRET: this.clientSecret,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.baseUrl);
    const method = req.method ?? 'GET';
    this.calls.push({ method, path: `${url.pathname}${url.search}`, body });
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify(value));
    };
    const outcome = (status: number, text: string) =>
      json(status, {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: status < 400 ? 'information' : 'error',
            code: status < 400 ? 'informational' : 'processing',
            details: { text },
          },
        ],
      });

    if (method === 'POST' && url.pathname === '/oauth2/token') {
      const form = new URLSearchParams(body);
      if (form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret) {
        return json(400, { error: 'invalid_client', error_description: 'Invalid secret' });
      }
      return json(200, { token_type: 'Bearer', access_token: 'cli-token', expires_in: 3600 });
    }
    if (req.headers.authorization !== 'Bearer cli-token') {
      return outcome(401, 'Unauthorized');
    }
    if (method === 'GET' && url.pathname === '/auth/me') {
      return json(200, {
        project: { resourceType: 'Project', id: 'p1', name: 'Clinic' },
        membership: { resourceType: 'ProjectMembership', id: 'm1', admin: true },
        profile: { resourceType: 'ClientApplication', id: this.clientId },
      });
    }
    const bot = /^\/fhir\/R4\/Bot\/([^/]+)(\/\$deploy)?$/.exec(url.pathname);
    if (bot) {
      const id = decodeURIComponent(bot[1] ?? '');
      const stored = this.bots.get(id);
      if (!stored) {
        return outcome(404, 'Not found');
      }
      if (bot[2] && method === 'POST' && !this.botsEnabled) {
        return outcome(400, 'Bots not enabled');
      }
      if (bot[2] && method === 'POST') {
        const { code, filename } = JSON.parse(body) as { code: string; filename: string };
        this.deployed.push({ botId: id, code, filename });
        return outcome(200, 'Deployed');
      }
      if (method === 'GET') {
        return json(200, stored);
      }
      if (method === 'PUT') {
        const next = { ...(JSON.parse(body) as Record<string, unknown>), meta: { versionId: String(Date.now()) } };
        this.bots.set(id, next);
        return json(200, next);
      }
    }
    if (method === 'POST' && url.pathname === '/fhir/R4/Binary') {
      const id = randomUUID();
      this.binaries.set(id, body);
      return json(201, {
        resourceType: 'Binary',
        id,
        contentType: req.headers['content-type'],
        url: `${this.baseUrl}fhir/R4/Binary/${id}`,
      });
    }
    return outcome(404, `No route for ${method} ${url.pathname}`);
  }
}
