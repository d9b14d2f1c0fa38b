import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { TABLE_ATTRIBUTES } from '../core';

const { partitionKey: PK, sortKey: SK } = TABLE_ATTRIBUTES;

export type ExportFormat = 'csv' | 'parquet';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'parquet'];

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
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  private static key(id: string) {
    return { [PK]: { S: `export#${id}` }, [SK]: { S: 'export' } };
  }

  async put(job: ExportJob): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: { ...DynamoExportJobs.key(job.id), job: { S: JSON.stringify(job) } },
      }),
    );
  }

  async get(id: string): Promise<ExportJob | null> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: DynamoExportJobs.key(id), ConsistentRead: true }),
    );
    const body = Item?.job?.S;
    return body === undefined ? null : (JSON.parse(body) as ExportJob);
  }

  async delete(id: string): Promise<void> {
    await this.client.send(
      new DeleteItemCommand({ TableName: this.tableName, Key: DynamoExportJobs.key(id) }),
    );
  }
}
