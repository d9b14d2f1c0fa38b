/**
 * The driftless API over HTTP, typed by its response schemas: every answer is parsed with the schema
 * of its route, so an answer the CLI does not understand is a one-line CliError, never a crash further on.
 */
import { z } from 'zod';
import { sketchErrorReports } from '../../functions/api/batch-run-schemas';
import { RESPONSE_SCHEMAS, type ResponseOf } from '../../functions/api/schemas';
import { ApiError, CliError, oneLine } from './errors';
import { API_KEY_FILE } from './local';

/** The fields the CLI prints of a drift report (functions/batch/reconcile.ts): the API's schema leaves it open. */
const DRIFT_REPORT = z.object({
  runId: z.string(),
  from: z.number(),
  to: z.number(),
  rowsCompared: z.number(),
  rowsDiffering: z.number(),
  driftRatio: z.number(),
  sketchError: sketchErrorReports.optional(),
});
const { BatchRun, Drift } = RESPONSE_SCHEMAS;
/** A batch run, each view's drift report read as one. */
const BATCH_RUN = BatchRun.extend({
  views: z.array(BatchRun.shape.views.element.extend({ drift: DRIFT_REPORT.nullable() })),
});
const DRIFT = Drift.extend({
  views: z.array(Drift.shape.views.element.extend({ reports: z.array(DRIFT_REPORT) })),
});
/** API Gateway's own error answers (a refused key, throttling) carry a message only. */
const GATEWAY_ERROR = z.object({ message: z.string() });

export type BatchRunAnswer = z.infer<typeof BATCH_RUN>;

export interface ExportRequest {
  readonly view: string;
  readonly from: number;
  readonly to: number;
  readonly format: ResponseOf<'Export'>['format'];
}

export class DriftlessApi {
  readonly base: string;

  constructor(
    url: string,
    private readonly apiKey?: string,
  ) {
    this.base = url.endsWith('/') ? url : `${url}/`;
  }

  views(): Promise<ResponseOf<'Views'>> {
    return this.call('GET', '/views', RESPONSE_SCHEMAS.Views);
  }
  /** One view as `GET /views` lists it; a CliError naming the views there are when it is not one of them. */
  async view(name: string): Promise<ResponseOf<'Views'>['views'][number]> {
    const { views } = await this.views();
    const summary = views.find((candidate) => candidate.name === name);
    if (summary === undefined)
      throw new CliError(
        `no view named ${name}; views: ${views.map((candidate) => candidate.name).join(', ')}`,
      );
    return summary;
  }

  series(view: string, query: URLSearchParams): Promise<ResponseOf<'Series'>> {
    return this.call('GET', `/views/${encodeURIComponent(view)}/series?${query}`, RESPONSE_SCHEMAS.Series);
  }

  /** Posts up to 500 events: how many were accepted, and why each other one was refused. */
  postEvents(events: readonly unknown[]): Promise<ResponseOf<'IngestResult'>> {
    // Every event refused is a 400 with the same answer: the reasons are per event.
    return this.call('POST', '/events', RESPONSE_SCHEMAS.IngestResult, {
      body: events,
      answeredWith400: true,
    });
  }

  /** Starts a batch run (`backfill`: recomputing those views' whole history); answers its id. */
  startBatchRun(backfill?: readonly string[]): Promise<ResponseOf<'Created'>> {
    const body = backfill === undefined ? {} : { backfill };
    return this.call('POST', '/batch-runs', RESPONSE_SCHEMAS.Created, { body });
  }

  batchRun(id: string): Promise<BatchRunAnswer> {
    return this.call('GET', `/batch-runs/${encodeURIComponent(id)}`, BATCH_RUN);
  }

  startExport(body: ExportRequest): Promise<ResponseOf<'Created'>> {
    return this.call('POST', '/exports', RESPONSE_SCHEMAS.Created, { body });
  }

  exportJob(id: string): Promise<ResponseOf<'Export'>> {
    return this.call('GET', `/exports/${encodeURIComponent(id)}`, RESPONSE_SCHEMAS.Export);
  }

  drift(limit: number): Promise<z.infer<typeof DRIFT>> {
    return this.call('GET', `/drift?limit=${limit}`, DRIFT);
  }

  /** Every catalog's latest data-quality reports, or `type`'s; `limit` per catalog (the API's default when not given). */
  dataQuality(options: { limit?: number; type?: string } = {}): Promise<ResponseOf<'DataQuality'>> {
    const query = new URLSearchParams();
    if (options.type !== undefined) query.set('type', options.type);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    return this.call('GET', `/data-quality?${query}`, RESPONSE_SCHEMAS.DataQuality);
  }

  /** A page of the view's restatement ledger (`since`, `from`, `to`, `limit`, `cursor`). */
  restatements(view: string, query: URLSearchParams): Promise<ResponseOf<'Restatements'>> {
    return this.call(
      'GET',
      `/views/${encodeURIComponent(view)}/restatements?${query}`,
      RESPONSE_SCHEMAS.Restatements,
    );
  }

  /** Points the view's manifest back to the previous one, or the latest `to` committed. */
  rollback(view: string, body: { to?: string; expectedRevision?: number }): Promise<ResponseOf<'Rollback'>> {
    return this.call('POST', `/views/${encodeURIComponent(view)}/rollback`, RESPONSE_SCHEMAS.Rollback, {
      body,
    });
  }

  quarantine(limit: number): Promise<ResponseOf<'Quarantine'>> {
    return this.call('GET', `/quarantine?limit=${limit}`, RESPONSE_SCHEMAS.Quarantine);
  }

  /**
   * One request, its answer parsed with `schema`. No answer, an error answer, or one that is not JSON or
   * not of the schema, is a CliError saying what to do.
   */
  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    schema: z.ZodType<T>,
    options: { body?: unknown; answeredWith400?: boolean } = {},
  ): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    const what = `${method} ${url.pathname}`;
    const response = await this.request(method, url, options.body);
    const text = await response.text();
    const answer = jsonOf(text);
    const parsed = schema.safeParse(answer);
    if (!response.ok) {
      if (options.answeredWith400 && response.status === 400 && parsed.success) return parsed.data;
      throw this.refusal(what, response.status, answer, text);
    }
    if (answer === undefined)
      throw new CliError(
        `${what} answered ${response.status} with what is not JSON (${oneLine(text, 80)}): is ${this.base} a driftless API? pass --api <url>`,
      );
    if (!parsed.success)
      throw new CliError(
        `${what} answered what this CLI does not understand (${issueOf(parsed.error)}): is ${this.base} a driftless API of this version? pass --api <url>`,
      );
    return parsed.data;
  }

  private async request(method: string, url: URL, body: unknown): Promise<Response> {
    try {
      return await fetch(url, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...(this.apiKey ? { 'x-api-key': this.apiKey } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      // fetch says only "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND...).
      const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
      throw new CliError(
        `no API answers at ${this.base} (${cause}); start one with \`npm start\`, or pass --api <url> (or set DRIFTLESS_API)`,
      );
    }
  }

  /** An error answer in one line: the API's message, naming the parameter at fault. */
  private refusal(what: string, status: number, answer: unknown, text: string): ApiError {
    const error = RESPONSE_SCHEMAS.Error.safeParse(answer);
    const gateway = GATEWAY_ERROR.safeParse(answer);
    const message = gateway.success ? gateway.data.message : oneLine(text, 200) || '(no message)';
    const parameter = error.data?.details?.parameter;
    // API Gateway's answer to a missing or wrong key says only "Forbidden".
    const hint =
      status === 403 && message === 'Forbidden'
        ? `; ${this.apiKey ? 'the API key was refused' : 'no API key was sent'}: pass --api-key <key> (or set DRIFTLESS_API_KEY); a local runtime keeps its key in <data dir>/${API_KEY_FILE}`
        : '';
    return new ApiError(
      `${what} answered ${status}: ${oneLine(message)}${hint}`,
      typeof parameter === 'string' ? parameter : undefined,
    );
  }
}

/** The answer's JSON; undefined if it is not JSON. */
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The first thing a schema found wrong, where: `views.0.watermark: Invalid input: expected number`. */
function issueOf(error: z.ZodError): string {
  const [first, ...others] = error.issues;
  if (first === undefined) return 'no detail';
  const where = first.path.length > 0 ? `${first.path.join('.')}: ` : '';
  return `${where}${first.message}${others.length > 0 ? ` (and ${others.length} more)` : ''}`;
}
