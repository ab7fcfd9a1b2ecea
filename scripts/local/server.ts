import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getSearchParameters, isResourceType } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { EmbeddedFhirServer, type BotRegistration } from '../../lib/embedded/fhir-server';
import { loadStore, StoreSaver } from '../../lib/embedded/store-file';
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME } from '../../src/constants';
import type { RouterResult } from '../../src/router/router';
import { STAFF_CALLED_BOTS } from '../ops/access-policies';
import { loadConfiguredBots } from './bots';
import { ensureLocalProject, type LocalProject, type LocalSecrets } from './project';

export const DEFAULT_PORT = 8103;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_PATH = '.data/store.json';
/** Who posts to `$execute` over HTTP: Stripe's webhook client, as in production (not an operator). */
export const STRIPE_CALLER = 'ClientApplication/stripe-webhook';
/** Largest request body read, in bytes (the router itself refuses events over 1 MiB). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface LocalServerOptions {
  /** 0 picks a free port. Default 8103. */
  readonly port?: number;
  readonly host?: string;
  /** Store file, loaded at start and saved after every event and at close; undefined = memory only. */
  readonly dataPath?: string;
  /** `STRIPE_WEBHOOK_SECRET` (what `stripe listen` printed); unset, every signed event is rejected. */
  readonly webhookSecret?: string;
  /** `STRIPE_LIVEMODE` (`true`/`false`); unset accepts both modes. */
  readonly livemode?: string;
  /** The payment-request bot's `STRIPE_SECRET_KEY` and `STRIPE_API_URL` (see docs/payment-requests.md). */
  readonly paymentRequest?: LocalSecrets['paymentRequest'];
  /**
   * Hand the router the raw body (Medplum ≥ 5.2 with `Bot.rawBody`) instead of parsed JSON (Medplum
   * 5.1, the default): the signature is then checked over the exact bytes Stripe sent.
   */
  readonly rawBody?: boolean;
  /** Let the bots' own JSON logs through (default: only one line per event). */
  readonly verbose?: boolean;
  /** Where notices go (default: stdout). */
  readonly log?: (line: string) => void;
  /** Called once per posted event (default: prints `formatEventLine` through `log`). */
  readonly onEvent?: (line: EventLine) => void;
  /** Answer identifier and `_tag` searches from an index (default true; false measures the plain scan). */
  readonly indexTokens?: boolean;
  /** medplum.config.json to read the bots from (default: the project's). */
  readonly configPath?: string;
}

export interface LocalServer {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  readonly port: number;
  /** Where Stripe (or `stripe listen --forward-to`) posts: `<base>/fhir/R4/Bot/<router id>/$execute`. */
  readonly routerUrl: string;
  /** The same endpoint by the router's identifier, which does not depend on the stored Bot id. */
  readonly routerIdentifierUrl: string;
  readonly embedded: EmbeddedFhirServer;
  readonly project: LocalProject;
  readonly bots: readonly BotRegistration[];
  /** Bots of medplum.config.json that could not be loaded, with the reason. */
  readonly botFailures: readonly { readonly name: string; readonly reason: string }[];
  /** Resources restored from the store file (undefined: no file yet, or memory only). */
  readonly restored: number | undefined;
  readonly dataPath: string | undefined;
  /** Saves the store now (no-op in memory). */
  save(): Promise<void>;
  /** Stops accepting connections, lets in-flight requests finish, saves the store. */
  close(): Promise<void>;
}

/** One line per event, as `npm start` prints it. */
export interface EventLine {
  readonly status: number;
  readonly type?: string;
  readonly eventId?: string;
  readonly outcome?: string;
  readonly resources?: readonly string[];
  readonly reason?: string;
}

/**
 * `npm start`: Medplum's `Bot/$execute` for the router, over HTTP, with every bot of
 * medplum.config.json running in process against the embedded FHIR store (Medplum's FHIR router and
 * in-memory repository with the test harness's strict validation), kept in a JSON file.
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const onEvent = options.onEvent ?? ((line: EventLine) => log(formatEventLine(line)));
  const embedded = new EmbeddedFhirServer({
    validate: true,
    indexTokens: options.indexTokens ?? true,
    recordRequests: false,
  });
  const restored = options.dataPath ? await loadStore(embedded.repo, options.dataPath) : undefined;

  const { bots: loaded, failures } = await loadConfiguredBots(options.configPath);
  if (!loaded.some((b) => b.name === BOT_NAME.router)) {
    throw new Error(`medplum.config.json lists no loadable ${BOT_NAME.router}: nothing could take events`);
  }
  for (const bot of loaded) {
    await embedded.registerBot(bot.name, bot.handler, { rawBody: bot.name === BOT_NAME.router && !!options.rawBody });
  }
  const project = await ensureLocalProject(embedded, {
    webhookSecret: options.webhookSecret,
    livemode: options.livemode,
    paymentRequest: options.paymentRequest,
  });
  const saver = options.dataPath ? new StoreSaver(embedded.repo, options.dataPath) : undefined;
  await saver?.save();

  const routerId = embedded.botId(BOT_NAME.router);
  const quiet = !options.verbose;
  const inFlight = new Set<Promise<void>>();
  let base = '';

  const server: Server = createServer((req, res) => {
    const work = handleRequest(req, res).catch((err: unknown) => {
      log(`internal error: ${(err as Error).message ?? String(err)}`);
      if (!res.headersSent) {
        sendJson(res, 500, outcome('exception', `Internal error of the local server: ${(err as Error).message}`));
      } else {
        res.destroy();
      }
    });
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  });

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', base);
    const execute = /^\/fhir\/R4\/Bot\/(?:([^/]+)\/)?\$execute\/?$/.exec(url.pathname);
    if (execute) {
      if (method !== 'POST') {
        return sendJson(res, 405, outcome('not-supported', `${method} ${url.pathname}: $execute takes POST`), {
          allow: 'POST',
        });
      }
      const id = execute[1] ? decodeURIComponent(execute[1]) : undefined;
      const identifier = url.searchParams.get('identifier');
      const isRouter = id ? id === routerId : identifier === `${BOT_IDENTIFIER_SYSTEM}|${BOT_NAME.router}`;
      if (!isRouter) {
        const other = embedded
          .registeredBots()
          .find((b) => b.id === id || `${BOT_IDENTIFIER_SYSTEM}|${b.name}` === identifier);
        if (other && STAFF_CALLED_BOTS.has(other.name)) {
          return executeStaffBot(req, res, other);
        }
        const what = other ? `${other.name} is reached through the router` : 'no such bot';
        return sendJson(
          res,
          other ? 403 : 404,
          outcome(other ? 'forbidden' : 'not-found', `${what}: post Stripe events to ${routerUrl}`)
        );
      }
      return executeRouter(req, res, url);
    }
    if (url.pathname === '/' || url.pathname === '') {
      if (method !== 'GET' && method !== 'HEAD') {
        return sendJson(
          res,
          404,
          outcome('not-found', `Nothing takes ${method} /: post Stripe events to ${routerUrl}`)
        );
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${banner()}\n`);
      return;
    }
    if (url.pathname.startsWith('/fhir/R4/')) {
      if (method !== 'GET' && method !== 'HEAD') {
        return sendJson(
          res,
          405,
          outcome(
            'not-supported',
            `${method} ${url.pathname}: the local FHIR store is read-only over HTTP (GET /fhir/R4/<Type>?… ` +
              `and GET /fhir/R4/<Type>/<id>); events go to POST ${routerUrl}`
          ),
          { allow: 'GET' }
        );
      }
      await drain(req);
      const problem = searchProblem(url);
      if (problem) {
        return sendJson(res, 400, outcome('invalid', problem));
      }
      const response = await embedded.serve(url.pathname.slice('/fhir/R4/'.length) + url.search, {}, 'test');
      return sendText(res, response.status, await response.text());
    }
    await drain(req);
    return sendJson(
      res,
      404,
      outcome(
        'not-found',
        `No route for ${method} ${url.pathname}: post Stripe events to ${routerUrl} ` +
          `(or ${routerIdentifierUrl}); read resources with GET ${base}/fhir/R4/<Type>?…`
      )
    );
  }

  /**
   * A bot that staff call (the payment-request bot), run as the local operator: `npm start` has no
   * logins, so whoever reaches the loopback port counts as staff.
   */
  async function executeStaffBot(req: IncomingMessage, res: ServerResponse, bot: BotRegistration): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) {
      return sendJson(res, 413, outcome('too-long', `The body is larger than ${MAX_BODY_BYTES} bytes`));
    }
    const contentType = req.headers['content-type'] ?? 'application/json';
    const response = await botLogs.run({ quiet }, () =>
      embedded.serve(
        `Bot/${bot.id}/$execute`,
        { method: 'POST', body, headers: { 'content-type': contentType } },
        `Practitioner/${project.operator.id}`
      )
    );
    const answer = (await response.json()) as unknown;
    await saver?.save();
    const time = new Date().toISOString().slice(11, 19);
    const said = response.status === 200 ? (answer as { sessionId?: string }).sessionId : outcomeText(answer);
    log(`${time} ${bot.name} → ${response.status} → ${firstSentence(said ?? '')}`);
    return sendJson(res, response.status, answer);
  }

  async function executeRouter(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) {
      return sendJson(res, 413, outcome('too-long', `The body is larger than ${MAX_BODY_BYTES} bytes`));
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) {
        headers[key] = Array.isArray(value) ? value.join(', ') : value;
      }
    }
    headers['content-type'] ??= 'application/json';
    const path = `Bot/${routerId}/$execute${url.search}`;
    const response = await botLogs.run({ quiet }, () =>
      embedded.serve(path, { method: 'POST', body, headers }, STRIPE_CALLER)
    );
    const answer = (await response.json()) as unknown;
    let saveError: Error | undefined;
    await saver?.save().catch((err: unknown) => {
      saveError = err as Error;
    });
    onEvent(eventLine(response.status, answer, body));
    if (saveError) {
      log(`could not save the store to ${options.dataPath}: ${saveError.message}`);
      return sendJson(
        res,
        500,
        outcome('exception', `Processed, but the store could not be saved: ${saveError.message}`)
      );
    }
    return sendJson(res, response.status, response.status === 200 ? answer : withHint(answer, options.webhookSecret));
  }

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port ?? DEFAULT_PORT, options.host ?? DEFAULT_HOST, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  base = `http://${host}:${address.port}`;
  const routerUrl = `${base}/fhir/R4/Bot/${routerId}/$execute`;
  const routerIdentifierUrl = `${base}/fhir/R4/Bot/$execute?identifier=${encodeURIComponent(`${BOT_IDENTIFIER_SYSTEM}|${BOT_NAME.router}`)}`;

  function banner(): string {
    return [
      `stripe-medplum local server`,
      `  Stripe events: POST ${routerUrl}`,
      `  by identifier: POST ${routerIdentifierUrl}`,
      `  read:          GET  ${base}/fhir/R4/<Type>?…  and  GET ${base}/fhir/R4/<Type>/<id>`,
    ].join('\n');
  }

  let closing: Promise<void> | undefined;
  return {
    baseUrl: base,
    port: address.port,
    routerUrl,
    routerIdentifierUrl,
    embedded,
    project,
    bots: embedded.registeredBots(),
    botFailures: failures.map(({ name, reason }) => ({ name, reason })),
    restored,
    dataPath: options.dataPath,
    save: () => saver?.save() ?? Promise.resolve(),
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
        server.closeIdleConnections();
        while (inFlight.size > 0) {
          await Promise.allSettled([...inFlight]);
        }
        server.closeAllConnections();
        await stopped;
        await saver?.save();
      })();
      return closing;
    },
  };
}

/** The per-event line: `type → outcome → resources`. */
export function formatEventLine(line: EventLine): string {
  const time = new Date().toISOString().slice(11, 19);
  const what = `${line.type ?? '(not a Stripe event)'}${line.eventId ? ` ${line.eventId}` : ''}`;
  if (line.status === 200) {
    const resources = line.resources?.length ? line.resources.join(', ') : '—';
    const reason = line.outcome === 'ignored' && line.reason ? ` (${line.reason})` : '';
    return `${time} ${what} → ${line.outcome}${reason} → ${resources}`;
  }
  return `${time} ${what} → rejected ${line.status} → ${firstSentence(line.reason ?? 'no reason given')}`;
}

/** The reason's first sentence: the per-event line stays one line; the HTTP answer has all of it. */
function firstSentence(text: string): string {
  const end = text.search(/\.\s/);
  const sentence = end > 0 && end < 160 ? text.slice(0, end) : text;
  return sentence.length > 160 ? `${sentence.slice(0, 157)}…` : sentence;
}

function eventLine(status: number, answer: unknown, body: string): EventLine {
  if (status === 200) {
    const result = answer as RouterResult;
    return {
      status,
      type: result.type,
      eventId: result.eventId,
      outcome: result.outcome,
      resources: result.resources,
      ...(result.reason && { reason: result.reason }),
    };
  }
  let event: { id?: unknown; type?: unknown } = {};
  try {
    event = JSON.parse(body) as typeof event;
  } catch {
    // Not JSON: the line says so through the reason.
  }
  return {
    status,
    ...(typeof event?.type === 'string' && { type: event.type }),
    ...(typeof event?.id === 'string' && { eventId: event.id }),
    reason: outcomeText(answer),
  };
}

/** Search results never filtered by the query (meta parameters), besides each type's own parameters. */
const RESULT_PARAMETERS = new Set([
  '_count',
  '_offset',
  '_sort',
  '_total',
  '_summary',
  '_elements',
  '_format',
  '_pretty',
]);

/**
 * Medplum's in-memory repository ignores what it cannot search, so a misspelt type or parameter
 * would answer an empty Bundle, which reads as "no data". A Medplum server answers 400: so do we.
 */
function searchProblem(url: URL): string | undefined {
  const [resourceType] = url.pathname.slice('/fhir/R4/'.length).split('/');
  if (!resourceType || !isResourceType(resourceType)) {
    return `Unknown resource type "${resourceType ?? ''}" in ${url.pathname}: use a FHIR R4 type, e.g. /fhir/R4/Invoice`;
  }
  const known = getSearchParameters(resourceType) ?? {};
  for (const name of new Set(url.searchParams.keys())) {
    const code = name.split(/[:.]/)[0] as string;
    if (!RESULT_PARAMETERS.has(code) && !(code in known)) {
      return `Unknown search parameter "${name}" for ${resourceType}; known: ${Object.keys(known).sort().join(', ')}`;
    }
  }
  return undefined;
}

/** A rejected event's OperationOutcome, with what to do about it where the local setup is the cause. */
function withHint(answer: unknown, webhookSecret: string | undefined): unknown {
  const text = outcomeText(answer);
  if (!text) {
    return answer;
  }
  let hint: string | undefined;
  if (/No Stripe-Signature header|Missing Stripe-Signature header/.test(text)) {
    hint = 'post events signed, as Stripe does: `stripe listen --forward-to <this URL>` signs them';
  } else if (/timestamp is stale|too far in the future/.test(text)) {
    hint =
      'Stripe signs each delivery with the time it was sent: resend the event (`stripe events resend <evt_…>`) rather than an old capture';
  } else if (/Stripe signature rejected/.test(text)) {
    hint = webhookSecret
      ? 'check that STRIPE_WEBHOOK_SECRET is the secret `stripe listen` printed (whsec_…) and restart npm start ' +
        '(`npm start -- --raw-body` checks the exact bytes instead of re-serialised JSON)'
      : 'STRIPE_WEBHOOK_SECRET is not set: set it to the secret `stripe listen` printed (whsec_…) and restart npm start';
  } else if (/Invalid JSON body|not JSON/.test(text)) {
    hint = 'the body must be a Stripe event, as JSON';
  }
  if (!hint) {
    return answer;
  }
  const outcome = answer as OperationOutcome;
  const [first, ...rest] = outcome.issue ?? [];
  return {
    ...outcome,
    issue: [{ ...first, details: { ...first?.details, text: `${text} — ${hint}` } }, ...rest],
  };
}

function outcomeText(answer: unknown): string | undefined {
  const outcome = answer as Partial<OperationOutcome> | null;
  if (outcome?.resourceType !== 'OperationOutcome') {
    return undefined;
  }
  return outcome.issue?.map((i) => i.details?.text ?? i.diagnostics ?? i.code).join('; ');
}

function outcome(code: string, text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: code as 'not-found', details: { text } }],
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(res, status, JSON.stringify(body), headers);
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/fhir+json; charset=utf-8', ...headers });
  res.end(text);
}

/** The body as text, or undefined when it is larger than MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      tooLarge = true;
      continue;
    }
    chunks.push(chunk);
  }
  return tooLarge ? undefined : new TextDecoder().decode(Buffer.concat(chunks));
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _chunk of req) {
    // Discarded: GETs and refused requests carry nothing we read.
  }
}

/**
 * The bots' own JSON logs (one or two lines per bot run) are noise next to the one line per event
 * that `npm start` prints, so they are dropped while a bot runs, unless `--verbose`. Everything
 * else the process logs still goes through.
 */
const botLogs = new AsyncLocalStorage<{ quiet: boolean }>();
for (const level of ['log', 'info', 'debug'] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    if (!botLogs.getStore()?.quiet) {
      original(...args);
    }
  };
}
