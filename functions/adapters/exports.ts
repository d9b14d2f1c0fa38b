import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ExportFormat } from '../commons/layout';
import { exportKey } from '../core/keys';
import { getJson, putJson } from './json-records';
import { Table } from './table';

export { EXPORT_FORMATS, type ExportFormat } from '../commons/layout';

/** An exact export someone asked for: what, over which buckets, and the engine's handle on it. */
export interface ExportJob {
  readonly id: string;
  readonly view: string;
  readonly version: number;
  readonly from: number;
  readonly to: number;
  readonly format: ExportFormat;
  readonly createdAt: number;
  /** The watermark and batch run current when it was asked for: `to` is at or below that watermark. */
  readonly watermark: number;
  readonly batchRunId: string;
  /** The engine's id for the running export (Athena's QueryExecutionId). */
  readonly engineRef: string;
}

export type ExportState = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface ExportStatus {
  readonly state: ExportState;
  /** Rows written, once known. */
  readonly rows: number | null;
  /** Where the output files are (`s3://` or file URIs), once written. */
  readonly files: readonly string[];
  readonly error: string | null;
}

/** Runs an export's SQL into files: Athena (UNLOAD, or a query's CSV result) in AWS, DuckDB COPY locally. */
export interface ExportEngine {
  start(id: string, sql: string, format: ExportFormat): Promise<string>;
  status(job: ExportJob): Promise<ExportStatus>;
  /** A URL a client can download one output file from (presigned in AWS). */
  downloadUrl(file: string): Promise<string>;
}

/** Export jobs live in the one table, one item each. */
export class DynamoExportJobs {
  private readonly table: Table;

  constructor(client: DynamoDBClient, tableName: string) {
    this.table = new Table(client, tableName);
  }

  async put(job: ExportJob): Promise<void> {
    await putJson(this.table, exportKey(job.id), 'job', job);
  }

  get(id: string): Promise<ExportJob | null> {
    return getJson<ExportJob>(this.table, exportKey(id), 'job', true);
  }

  async delete(id: string): Promise<void> {
    await this.table.delete(exportKey(id));
  }
}
