import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  BadRequestError,
  RouteMatchingError,
  Router,
  ServiceUnavailableError,
} from '@aws-lambda-powertools/event-handler/http';
import { cors } from '@aws-lambda-powertools/event-handler/http/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { Manifest } from '../adapters/dynamo-batch-store';
import { EXPORT_FORMATS, type ExportFormat, type ExportJob } from '../adapters/exports';
import { newRunId } from '../batch/plan';
import {
  BUCKET_WIDTH_MS,
  type BucketWidth,
  codePointLength,
  compileExportSql,
  isStepOf,
  rollUpSeries,
  topGroups,
  type ViewDefinition,
} from '../core';
import type { ApiDeps } from './deps';
import { computeOnce, Lru } from './lru';
import { MAX_DATA_QUALITY_REPORTS, openApiDocument } from './openapi';
import {
  badParameter,
  notFound,
  parseBoolean,
  parseLimit,
  parseStep,
  parseTime,
  queryOf,
  readJsonBody,
  STEPS,
  undecodableParameter,
} from './params';
import { SingleFlight } from './single-flight';
import { ViewReader } from './view-reader';

/** At most this many buckets per series answer. */
export const MAX_SERIES_BUCKETS = 5_000;
/** At most this much time per series, top or export request: what bounds the days read. */
export const MAX_RANGE_MS = 400 * BUCKET_WIDTH_MS.day;
export const MAX_EVENTS_PER_REQUEST = 500;
export const MAX_TOP_LIMIT = 1_000;
/** Quarantined records per answer. */
export const MAX_QUARANTINE_LISTED = 500;
/** Base64 characters of a quarantined record's data per answer (6 KB of data; a multiple of 4). */
export const MAX_QUARANTINE_DATA_CHARS = 8_192;

/**
 * The largest answer a route sends, counted as Lambda counts it, on the proxy result's JSON: a result
 * over 6 MB (6,291,456 bytes) is refused, and API Gateway answers 502. 64 KiB are left for the status
 * and headers around the body.
 */
export const MAX_ANSWER_BYTES = 6 * 1024 * 1024 - 64 * 1024;

/**
 * Bytes a body takes as the proxy result's `body` string, quotes included: each `"` and `\` is escaped
 * (2 bytes), each control character too (`\n` 2 bytes, `\u00XX` 6); every other byte stays one.
 */
export function proxyBodyBytes(body: Uint8Array): number {
  let bytes = 2 + body.byteLength;
  for (const byte of body) {
    if (byte === 0x22 || byte === 0x5c) bytes += 1;
    else if (byte < 0x20)
      bytes += byte === 0x08 || byte === 0x09 || byte === 0x0a || byte === 0x0c || byte === 0x0d ? 1 : 5;
  }
  return bytes;
}

/** Bytes of a binary body in the proxy result: base64, quotes included. */
export const base64BodyBytes = (bytes: number): number => 2 + 4 * Math.ceil(bytes / 3);

/** Paths whose parameters the router decodes: a segment that does not decode is named by its parameter. */
const ROUTES = {
  series: '/views/:name/series',
  top: '/views/:name/top',
  batchRun: '/batch-runs/:id',
  exportJob: '/exports/:id',
} as const;

/** Settled series parts kept (a few KB to a few hundred KB of JSON each). */
const SETTLED_ANSWERS_CACHED = 200;

/** An answer's bytes in an ArrayBuffer of their own, as the router takes a binary body. */
const ownBuffer = (bytes: Uint8Array): ArrayBuffer => new Uint8Array(bytes).buffer;

/** The last answer per distinct question, reused while its parts are unchanged. */
class LastAnswers {
  private readonly answers: Lru<{
    settled: string;
    recent: string;
    body: ArrayBuffer;
    gzipped?: ArrayBuffer;
    bodyBytes?: number;
  }>;

  constructor(capacity: number) {
    this.answers = new Lru(capacity);
  }

  /**
   * Keyed by the question alone: the parts (kilobytes of JSON) are compared, never hashed. The settled
   * part comes from a cache, so the same batch rows are the same string object.
   */
  reuse(
    question: string,
    settled: string,
    recent: string,
    build: () => string,
  ): { body: ArrayBuffer; gzipped: () => ArrayBuffer; proxyBodyBytes: () => number } {
    let answer = this.answers.get(question);
    if (answer === undefined || answer.settled !== settled || answer.recent !== recent) {
      // Kept encoded, and compressed once when asked: a reused answer is neither encoded nor compressed again.
      answer = { settled, recent, body: ownBuffer(Buffer.from(build(), 'utf8')) };
      this.answers.set(question, answer);
    }
    const kept = answer;
    return {
      body: kept.body,
      gzipped: () => (kept.gzipped ??= ownBuffer(gzipSync(kept.body, { level: 6 }))),
      proxyBodyBytes: () => (kept.bodyBytes ??= proxyBodyBytes(new Uint8Array(kept.body))),
    };
  }
}

const SERIES_PARAMETERS = new Set(['from', 'to', 'step', 'exact']);
const TOP_PARAMETERS = new Set(['from', 'to', 'measure', 'limit']);

function viewNamed(deps: ApiDeps, name: string): ViewDefinition {
  const view = deps.views.find((candidate) => candidate.name === name);
  if (view === undefined)
    throw notFound(
      'name',
      `no view named ${JSON.stringify(name)}; views: ${deps.views.map((v) => v.name).join(', ')}`,
    );
  return view;
}

/** from < to, both given, span capped; `align` widens them to whole steps. */
function parseRange(query: URLSearchParams, alignTo?: number): { from: number; to: number } {
  let from = parseTime('from', query.get('from'));
  let to = parseTime('to', query.get('to'));
  if (alignTo !== undefined) {
    from -= from % alignTo;
    to = to % alignTo === 0 ? to : to - (to % alignTo) + alignTo;
  }
  if (from >= to) throw badParameter('to', `must be after from (${from} >= ${to})`);
  if (to - from > MAX_RANGE_MS)
    throw badParameter('to', `from..to spans more than ${MAX_RANGE_MS / BUCKET_WIDTH_MS.day} days`);
  return { from, to };
}

/** The group filters: every query parameter not in `known` must be one of the view's group fields. */
function groupFilter(view: ViewDefinition, query: URLSearchParams, known: ReadonlySet<string>) {
  const filter: Record<string, string> = {};
  for (const [name, value] of query) {
    if (known.has(name)) continue;
    if (!view.groupBy.includes(name))
      throw badParameter(
        name,
        `unknown parameter: not a group field of view ${view.name} (${view.groupBy.join(', ') || 'none'})`,
      );
    if (Object.hasOwn(filter, name)) throw badParameter(name, 'given more than once');
    const rule = view.events.rules[name];
    // A value no event can hold is a mistake worth naming, not an empty answer.
    if (rule?.type === 'string' && codePointLength(value) > rule.maxLength)
      throw badParameter(name, `longer than the ${rule.maxLength} characters ${name} holds`);
    filter[name] = value;
  }
  return filter;
}

/**
 * A 400 for a series whose answer would pass MAX_ANSWER_BYTES, saying how to ask for less. `to` is
 * named: a shorter range is the first way.
 */
function seriesTooLarge(view: ViewDefinition, step: BucketWidth, bytes: number) {
  const coarser = STEPS.filter((candidate) => BUCKET_WIDTH_MS[candidate] > BUCKET_WIDTH_MS[step]);
  const ways = [
    'a shorter from..to',
    ...(coarser.length > 0 ? [`a coarser step (${coarser.join(', ')})`] : []),
    ...(view.groupBy.length > 0
      ? [`a group filter (${view.groupBy.map((field) => `${field}=...`).join(', ')})`]
      : []),
    `the largest groups from /views/${view.name}/top`,
  ];
  const megabytes = (n: number) => `${(n / 1_000_000).toFixed(1)} MB`;
  return new BadRequestError(
    `to: the answer would be ${megabytes(bytes)}, over the ${megabytes(MAX_ANSWER_BYTES)} an answer can carry; ask for less: ${ways.join(', ')}`,
    undefined,
    { parameter: 'to', answerBytes: bytes, maxAnswerBytes: MAX_ANSWER_BYTES },
  );
}

/** A JSON answer. (Handlers return Responses: Powertools' JSON types do not admit interfaces.) */
const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

const batchRunOf = (manifest: Manifest | null) =>
  manifest === null ? null : { id: manifest.lastRunId, committedAt: manifest.committedAt };

/** The API as the Lambda runtime and the local server call it. */
export interface ServingApi {
  handle(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult>;
}

/**
 * The serving API: one router for every route, over the adapters in `deps`. The Lambda handler and the
 * local server both call `resolve` on it with API Gateway proxy events.
 */
export function createApi(deps: ApiDeps): ServingApi {
  const app = new Router({ logger: deps.logger });
  const reader = new ViewReader(deps.batchStore, deps.speedStore, deps.speedRetentionMs);
  const settledBuckets = new Lru<Promise<string>>(SETTLED_ANSWERS_CACHED);
  const lastSeriesAnswers = new LastAnswers(SETTLED_ANSWERS_CACHED);
  const recentBuckets = new SingleFlight();
  // Path parameters the router cannot take (blank, or badly encoded) are the client's mistake.
  app.errorHandler(RouteMatchingError, async (error) =>
    json(
      { statusCode: 400, error: 'BadRequestError', message: error.message, details: { parameter: 'path' } },
      400,
    ),
  );
  // The router percent-decodes path parameters as it matches them: `%ZZ` or a cut-off UTF-8 sequence throws.
  app.errorHandler(URIError, async (_error, { req }) => {
    const parameter = undecodableParameter(new URL(req.url).pathname, Object.values(ROUTES));
    return json(
      {
        statusCode: 400,
        error: 'BadRequestError',
        message: `${parameter}: not percent-encoded UTF-8`,
        details: { parameter },
      },
      400,
    );
  });
  app.use(cors({ origin: '*', allowHeaders: ['Content-Type', 'Authorization', 'X-Api-Key', 'X-Amz-Date'] }));

  const openApi = openApiDocument(
    deps.views.map((view) => view.name),
    deps.catalog,
  );
  app.get('/openapi.json', () => json(openApi));

  app.get('/views', async () => {
    const now = deps.now();
    const views = await Promise.all(
      deps.views.map(async (view) => {
        const [manifest, latestSpeedBucket] = await Promise.all([
          reader.manifestOf(view),
          deps.speedStore.latestBucket(view, now),
        ]);
        return {
          name: view.name,
          version: view.version,
          bucket: view.time.bucket,
          groupBy: [...view.groupBy],
          measures: Object.fromEntries(Object.entries(view.measures).map(([name, m]) => [name, m.kind])),
          watermark: manifest?.watermark ?? 0,
          batchRun: batchRunOf(manifest),
          speed: {
            latestBucket: latestSpeedBucket,
            lagMs: latestSpeedBucket === null ? null : now - latestSpeedBucket,
          },
        };
      }),
    );
    return json({ views });
  });

  app.get(ROUTES.series, async ({ params, req }) => {
    const view = viewNamed(deps, params.name as string);
    const query = queryOf(req);
    const step = parseStep(query.get('step'), view.time.bucket);
    if (!isStepOf(view, step))
      throw badParameter('step', `${step} is finer than view ${view.name}'s ${view.time.bucket} buckets`);
    const width = BUCKET_WIDTH_MS[step];
    const { from, to } = parseRange(query, width);
    if ((to - from) / width > MAX_SERIES_BUCKETS)
      throw badParameter('step', `${(to - from) / width} buckets of ${step}: at most ${MAX_SERIES_BUCKETS}`);
    const exact = parseBoolean('exact', query.get('exact'));
    const filter = groupFilter(view, query, SERIES_PARAMETERS);
    const manifest = await reader.manifestOf(view);
    const watermark = manifest?.watermark ?? 0;
    // Steps wholly below the watermark are batch rows only, fixed until the next commit: their answer is
    // kept per manifest revision. Only the steps from the watermark's on are computed per request.
    const settledTo = Math.min(to, Math.max(from, watermark - (watermark % width)));
    const settled =
      manifest === null || settledTo <= from
        ? ''
        : await computeOnce(
            settledBuckets,
            JSON.stringify([view.name, manifest.revision, from, settledTo, step, filter]),
            async () => {
              const { rows } = await reader.read(view, from, settledTo, deps.now(), manifest);
              return JSON.stringify(rollUpSeries(view, rows, { step, watermark, filter })).slice(1, -1);
            },
          );
    // The steps from the watermark's on change with every speed write: computed per request, but
    // shared by the requests that ask while it is being computed.
    const recent =
      exact || settledTo >= to
        ? ''
        : await recentBuckets.run(
            JSON.stringify([view.name, manifest?.revision ?? 0, settledTo, to, step, filter]),
            async () => {
              const { rows } = await reader.read(view, settledTo, to, deps.now(), manifest);
              return JSON.stringify(rollUpSeries(view, rows, { step, watermark, filter })).slice(1, -1);
            },
          );
    const head = JSON.stringify({
      view: view.name,
      version: view.version,
      watermark,
      step,
      from,
      to,
      exact,
      batchRun: batchRunOf(manifest),
    });
    // Each character is a byte at least: parts this long are refused before they are joined.
    if (settled.length + recent.length > MAX_ANSWER_BYTES)
      throw seriesTooLarge(view, step, settled.length + recent.length);
    // Dashboards ask the same thing again and again: an answer equal to the last one is not rebuilt.
    const body = lastSeriesAnswers.reuse(`${head}${JSON.stringify(filter)}`, settled, recent, () => {
      const buckets = [settled, recent].filter((part) => part !== '').join(',');
      return `${head.slice(0, -1)},"buckets":[${buckets}]}`;
    });
    const gzip = /\bgzip\b/.test(req.headers.get('accept-encoding') ?? '');
    // Refused here rather than by Lambda (a 502). The plain answer decides, so a question gets the same
    // answer with or without gzip; a gzipped one is checked too, as base64 (incompressible text grows).
    const plainBytes = body.proxyBodyBytes();
    if (plainBytes > MAX_ANSWER_BYTES) throw seriesTooLarge(view, step, plainBytes);
    if (gzip && base64BodyBytes(body.gzipped().byteLength) > MAX_ANSWER_BYTES)
      throw seriesTooLarge(view, step, base64BodyBytes(body.gzipped().byteLength));
    // A proxy result, not a Response: the router copies a Response to add its headers, body stream and all.
    const headers: Record<string, string> = gzip
      ? { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' }
      : { 'Content-Type': 'application/json' };
    return { statusCode: 200, headers, body: gzip ? body.gzipped() : body.body };
  });

  app.get(ROUTES.top, async ({ params, req }) => {
    const view = viewNamed(deps, params.name as string);
    const query = queryOf(req);
    const measure = query.get('measure');
    if (measure === null || !Object.hasOwn(view.measures, measure))
      throw badParameter(
        'measure',
        `${measure === null ? 'is required' : `${JSON.stringify(measure)} is not a measure`}: one of ${Object.keys(view.measures).join(', ')}`,
      );
    const limit = parseLimit(query.get('limit'), 10, MAX_TOP_LIMIT);
    const { from, to } = parseRange(query, BUCKET_WIDTH_MS[view.time.bucket]);
    const filter = groupFilter(view, query, TOP_PARAMETERS);
    const served = await reader.read(view, from, to, deps.now());
    return json({
      view: view.name,
      watermark: served.watermark,
      from,
      to,
      measure,
      groups: topGroups(view, served.rows, { measure, limit, filter }),
    });
  });

  app.post('/events', async ({ req }) => {
    const body = await readJsonBody(req);
    const events = Array.isArray(body) ? body : [body];
    if (body === undefined || events.length === 0 || events.length > MAX_EVENTS_PER_REQUEST)
      throw badParameter('body', `one event or an array of 1 to ${MAX_EVENTS_PER_REQUEST} events`);
    const errors: { index: number; message: string; fields: { field: string; message: string }[] }[] = [];
    const valid: { index: number; partitionKey: string; data: string }[] = [];
    events.forEach((input, index) => {
      const parsed = deps.catalog.parse(input);
      if (parsed.ok)
        valid.push({
          index,
          partitionKey: String(parsed.event[deps.catalog.idField]),
          data: JSON.stringify(parsed.event),
        });
      else
        errors.push({
          index,
          message: `fails the ${deps.catalog.name} schema: ${[...new Set(parsed.errors.map((e) => e.field))].join(', ')}`,
          fields: parsed.errors.map((e) => ({ field: e.field, message: e.message })),
        });
    });
    const notPut = valid.length === 0 ? new Map<number, string>() : await deps.events.put(valid);
    for (const [position, reason] of notPut) {
      const index = valid[position]?.index as number;
      errors.push({ index, message: `not put on the stream: ${reason}`, fields: [] });
    }
    errors.sort((a, b) => a.index - b.index);
    const accepted = valid.length - notPut.size;
    const result = { accepted, rejected: errors.length, errors };
    if (accepted === 0 && notPut.size > 0)
      throw new ServiceUnavailableError('the stream refused every event; retry later', undefined, result);
    return json(result, accepted > 0 ? 202 : 400);
  });

  app.post('/batch-runs', async ({ req }) => {
    const body = (await readJsonBody(req)) ?? {};
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badParameter('body', 'an object, e.g. {} or {"backfill": ["revenue"]}');
    const { backfill, ...rest } = body as { backfill?: unknown };
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw badParameter(unknown, 'unknown field; the only field is backfill');
    if (backfill !== undefined) {
      if (!Array.isArray(backfill) || backfill.some((name) => typeof name !== 'string'))
        throw badParameter('backfill', 'an array of view names');
      for (const name of backfill as string[])
        if (!deps.views.some((view) => view.name === name))
          throw badParameter('backfill', `no view named ${JSON.stringify(name)}`);
    }
    const id = newRunId(deps.now());
    await deps.batchRuns.start({
      runId: id,
      ...(backfill === undefined ? {} : { backfill: backfill as string[] }),
    });
    return json({ id }, 202);
  });

  app.get(ROUTES.batchRun, async ({ params }) => {
    const id = params.id as string;
    const run = /^[A-Za-z0-9_-]{1,80}$/.test(id) ? await deps.batchRuns.describe(id) : null;
    if (run === null) throw notFound('id', `no batch run ${JSON.stringify(id)}`);
    // Recorded by the run's commit: what became of each view, the archive lines it skipped and the ids
    // it counted more than once.
    const outcome = await deps.batchStore.runOutcome(id);
    const views = await Promise.all(
      deps.views.map(async (view) => {
        const manifest = await reader.manifestOf(view);
        const viewOutcome = outcome?.views.find((entry) => entry.view === view.name) ?? null;
        // A run that failed one view still reconciled the views it committed.
        const reconciled = run.status === 'SUCCEEDED' || viewOutcome?.status === 'committed';
        const drift = reconciled ? await deps.batchStore.driftReport(view.name, id) : null;
        // While the run loads, how far it has come (a backfill may take many loads).
        const live =
          run.status === 'RUNNING' ? await deps.batchStore.viewProgress(view.name, view.version) : null;
        return {
          view: view.name,
          watermark: manifest?.watermark ?? 0,
          committedByThisRun: manifest?.lastRunId === id,
          outcome: viewOutcome,
          progress:
            live === null || live.runId !== id
              ? null
              : {
                  version: live.version,
                  daysDone: live.daysDone,
                  daysTotal: live.daysTotal,
                  loadedThrough: live.loadedThrough,
                  startedAt: live.startedAt,
                },
          drift,
        };
      }),
    );
    return json({
      ...run,
      views,
      skippedLines: outcome?.skippedLines ?? null,
      // Outcomes recorded before the report existed have none.
      distantCopies: outcome?.distantCopies ?? null,
    });
  });

  app.get('/drift', async ({ req }) => {
    const limit = parseLimit(queryOf(req).get('limit'), 5, 100);
    const reports = await Promise.all(
      deps.views.map(async (view) => ({
        view: view.name,
        reports: await deps.batchStore.latestDriftReports(view.name, limit),
      })),
    );
    return json({ views: reports });
  });

  app.get('/data-quality', async ({ req }) => {
    const limit = parseLimit(queryOf(req).get('limit'), 5, MAX_DATA_QUALITY_REPORTS);
    const reports = await deps.batchStore.latestDataQualityReports(deps.catalog.name, limit);
    return json({ catalog: deps.catalog.name, reports });
  });

  app.get('/quarantine', async ({ req }) => {
    const limit = parseLimit(queryOf(req).get('limit'), MAX_QUARANTINE_LISTED / 10, MAX_QUARANTINE_LISTED);
    const { total, records } = await deps.quarantine.recent(limit);
    // A record may be 1 MiB: each answer carries at most its first few KB, so 500 fit in 6 MB.
    return json({
      total,
      records: records.map((record) => ({
        ...record,
        data: record.data.slice(0, MAX_QUARANTINE_DATA_CHARS),
        dataBytes: Buffer.byteLength(record.data, 'base64'),
        dataTruncated: record.data.length > MAX_QUARANTINE_DATA_CHARS,
      })),
    });
  });

  app.post('/exports', async ({ req }) => {
    const body = await readJsonBody(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badParameter('body', 'an object: {"view", "from", "to", "format"}');
    const fields = body as Record<string, unknown>;
    const unknown = Object.keys(fields).find((key) => !['view', 'from', 'to', 'format'].includes(key));
    if (unknown !== undefined)
      throw badParameter(unknown, 'unknown field; fields are view, from, to, format');
    if (typeof fields.view !== 'string') throw badParameter('view', 'is required: a view name');
    const view = deps.views.find((candidate) => candidate.name === fields.view);
    if (view === undefined) throw badParameter('view', `no view named ${JSON.stringify(fields.view)}`);
    const format = (fields.format ?? 'csv') as ExportFormat;
    if (!EXPORT_FORMATS.includes(format)) throw badParameter('format', `one of ${EXPORT_FORMATS.join(', ')}`);
    const time = (name: 'from' | 'to') => {
      const value = fields[name];
      return parseTime(
        name,
        typeof value === 'number' ? String(value) : typeof value === 'string' ? value : null,
      );
    };
    const range = parseRange(
      new URLSearchParams({ from: String(time('from')), to: String(time('to')) }),
      BUCKET_WIDTH_MS[view.time.bucket],
    );
    const manifest = await reader.manifestOf(view);
    if (manifest === null || range.to > manifest.watermark)
      throw badParameter(
        'to',
        `exports are exact: to must be at or before the watermark (${manifest?.watermark ?? 0}, ` +
          `${manifest === null ? 'no batch run yet' : new Date(manifest.watermark).toISOString()})`,
      );
    const id = randomUUID();
    const engineRef = await deps.exports.start(id, compileExportSql(view, range.from, range.to), format);
    const job: ExportJob = {
      id,
      view: view.name,
      version: view.version,
      ...range,
      format,
      createdAt: deps.now(),
      watermark: manifest.watermark,
      batchRunId: manifest.lastRunId,
      engineRef,
    };
    await deps.exportJobs.put(job);
    return json({ id }, 202);
  });

  app.get(ROUTES.exportJob, async ({ params }) => {
    const id = params.id as string;
    const job = /^[0-9a-f-]{36}$/.test(id) ? await deps.exportJobs.get(id) : null;
    if (job === null) throw notFound('id', `no export ${JSON.stringify(id)}`);
    const status = await deps.exports.status(job);
    const downloads = await Promise.all(status.files.map((file) => deps.exports.downloadUrl(file)));
    const { engineRef: _engineRef, ...described } = job;
    return json({ ...described, status: status.state, rows: status.rows, downloads, error: status.error });
  });

  return {
    async handle(event, context) {
      try {
        return await app.resolve(event, context);
      } catch (error) {
        // The router turns the event into a URL before routing; a path no URL can hold ends here.
        deps.logger.warn('request refused before routing', { error, path: event.path });
        return {
          statusCode: 400,
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            statusCode: 400,
            error: 'BadRequestError',
            message: `path: ${(error as Error).message}`,
            details: { parameter: 'path' },
          }),
        };
      }
    },
  };
}
