import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryRuntimeStatisticsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { quoteString } from '../core';
import type { ExportEngine, ExportFormat, ExportJob, ExportStatus } from './exports';

export interface AthenaExportOptions {
  readonly workGroup: string;
  readonly database: string;
  /** Parquet exports are UNLOADed under `s3://<bucket>/<prefix><id>/`. */
  readonly bucket: string;
  readonly prefix: string;
  /** How long a download link works. @default 1 hour */
  readonly urlExpiresInSeconds?: number;
}

const parseS3Uri = (uri: string): { bucket: string; key: string } => {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (match === null) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: match[1] as string, key: match[2] as string };
};

/**
 * Exports with Athena, in the exports work group. CSV is a plain query: its result file is a CSV with a
 * header, written where that work group puts results (under the exports prefix of the exports bucket).
 * Parquet is an UNLOAD into the exports prefix.
 */
export class AthenaExportEngine implements ExportEngine {
  constructor(
    private readonly athena: AthenaClient,
    private readonly s3: S3Client,
    private readonly options: AthenaExportOptions,
  ) {}

  private unloadLocation(id: string): string {
    return `s3://${this.options.bucket}/${this.options.prefix}${id}/`;
  }

  async start(id: string, sql: string, format: ExportFormat): Promise<string> {
    const queryString =
      format === 'csv'
        ? sql
        : `UNLOAD (${sql}) TO ${quoteString(this.unloadLocation(id))} WITH (format = 'PARQUET')`;
    const { QueryExecutionId } = await this.athena.send(
      new StartQueryExecutionCommand({
        QueryString: queryString,
        WorkGroup: this.options.workGroup,
        QueryExecutionContext: { Database: this.options.database },
        ClientRequestToken: `export-${id}`.padEnd(32, '-'),
      }),
    );
    if (!QueryExecutionId) throw new Error(`Athena returned no QueryExecutionId for export ${id}`);
    return QueryExecutionId;
  }

  async status(job: ExportJob): Promise<ExportStatus> {
    const { QueryExecution } = await this.athena.send(
      new GetQueryExecutionCommand({ QueryExecutionId: job.engineRef }),
    );
    const state = QueryExecution?.Status?.State;
    if (state === 'FAILED' || state === 'CANCELLED')
      return {
        state: 'FAILED',
        rows: null,
        files: [],
        error: QueryExecution?.Status?.StateChangeReason ?? state,
      };
    if (state !== 'SUCCEEDED') return { state: 'RUNNING', rows: null, files: [], error: null };
    // Statistics can lag the query's end: the export is done, its row count not yet known.
    const rows = await this.athena
      .send(new GetQueryRuntimeStatisticsCommand({ QueryExecutionId: job.engineRef }))
      .then(({ QueryRuntimeStatistics }) => QueryRuntimeStatistics?.Rows?.OutputRows ?? null)
      .catch(() => null);
    const location = QueryExecution?.ResultConfiguration?.OutputLocation;
    const files =
      job.format === 'csv' ? (location === undefined ? [] : [location]) : await this.listUnloaded(job.id);
    return { state: 'SUCCEEDED', rows: rows === null ? null : Number(rows), files, error: null };
  }

  private async listUnloaded(id: string): Promise<string[]> {
    const { bucket, key: prefix } = parseS3Uri(this.unloadLocation(id));
    const files: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: continuationToken }),
      );
      for (const object of page.Contents ?? []) if (object.Key) files.push(`s3://${bucket}/${object.Key}`);
      continuationToken = page.NextContinuationToken;
    } while (continuationToken !== undefined);
    return files.sort();
  }

  objectKeyOf(file: string): string | null {
    const { bucket, key } = parseS3Uri(file);
    // The exports work group writes CSV results under the exports prefix too: every file written since is
    // hashed there; a CSV result from before is in the query-results bucket, where nothing hashes it.
    return bucket === this.options.bucket && key.startsWith(this.options.prefix) ? key : null;
  }

  downloadUrl(file: string): Promise<string> {
    const { bucket, key } = parseS3Uri(file);
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: this.options.urlExpiresInSeconds ?? 3600,
    });
  }
}
