import { randomUUID } from 'node:crypto';
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryRuntimeStatisticsCommand,
} from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogs } from '../../events';
import { AthenaExportEngine } from '../../functions/adapters/athena-export';
import { DynamoBatchStore } from '../../functions/adapters/dynamo-batch-store';
import { DynamoExportJobs, type ExportJob } from '../../functions/adapters/exports';
import { Table } from '../../functions/adapters/table';
import { createApi } from '../../functions/api/app';
import { EXPORTS_PREFIX } from '../../functions/commons/layout';
import {
  exportCompletionKey,
  exportFileHashKey,
  exportKey,
  TABLE_ATTRIBUTES,
} from '../../functions/core/keys';
import { type LocalApiServer, startApiGateway } from '../../local/api-server';
import type { CloudFormationTemplate } from '../../local/template';
import { apiDeps } from '../support/api-deps';
import { startFixture } from '../support/fixture';
import { synthesizeStack } from '../support/template';

const DAY = 86_400_000;
const API_KEY = 'test-key-1234';
const EXPORTS_BUCKET = 'driftless-exports';
const RESULTS_BUCKET = 'driftless-query-results';

let fixture: Awaited<ReturnType<typeof startFixture>>;
let tableName: string;
let server: LocalApiServer;

/** Athena as it answers about a finished CSV export whose result is at `outputLocation`. */
function athenaFinished(outputLocation: string): AthenaClient {
  const send = async (command: unknown) => {
    if (command instanceof GetQueryExecutionCommand)
      return {
        QueryExecution: {
          Status: { State: 'SUCCEEDED' },
          ResultConfiguration: { OutputLocation: outputLocation },
        },
      };
    if (command instanceof GetQueryRuntimeStatisticsCommand)
      return { QueryRuntimeStatistics: { Rows: { OutputRows: 12 } } };
    throw new Error(`the export's GET sent Athena ${String(command)}`);
  };
  return { send } as unknown as AthenaClient;
}

/** A CSV export's result from before exports had their own work group: in the query-results bucket. */
const oldResult = `s3://${RESULTS_BUCKET}/results/0f3e-query.csv`;

beforeAll(async () => {
  fixture = await startFixture();
  tableName = await fixture.newTable();
  const template = synthesizeStack().template.toJSON() as CloudFormationTemplate;
  const deps = apiDeps("an export's GET", {
    batchStore: new DynamoBatchStore(fixture.dynamo, tableName, catalogs),
    exportJobs: new DynamoExportJobs(fixture.dynamo, tableName),
    exports: new AthenaExportEngine(
      athenaFinished(oldResult),
      new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
      { workGroup: 'exports', database: 'driftless', bucket: EXPORTS_BUCKET, prefix: EXPORTS_PREFIX },
    ),
  });
  const api = createApi(deps);
  server = await startApiGateway((event, context) => api.handle(event, context), {
    template,
    apiKey: API_KEY,
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await fixture?.close();
});

/** An export job as `POST /exports` records it, for a CSV export. */
const csvJob = (createdAt: number): ExportJob => ({
  id: randomUUID(),
  view: 'revenue',
  version: 1,
  from: createdAt - 2 * DAY,
  to: createdAt - DAY,
  format: 'csv',
  createdAt,
  watermark: createdAt - DAY,
  batchRunId: 'run-1',
  engineRef: 'query-1',
});

describe('an export whose file lies outside the exports prefix', () => {
  it('answers 200 with its download link, and says its file is not hashable: it never completes', async () => {
    // Prepare: a CSV export asked for before exports had their own work group
    const job = csvJob(Date.now() - DAY);
    await new DynamoExportJobs(fixture.dynamo, tableName).put(job);
    // Act
    const response = await fetch(`${server.url}/exports/${job.id}`, { headers: { 'x-api-key': API_KEY } });
    // Assess
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { downloads: string[] };
    expect(answer).toMatchObject({
      status: 'SUCCEEDED',
      rows: 12,
      completed: null,
      filesHashed: { hashed: 0, of: 1, notHashable: 1 },
    });
    expect(answer.downloads).toEqual([
      expect.stringMatching(
        new RegExp(`^https://${RESULTS_BUCKET}\\.s3\\.[^/]+/results/0f3e-query\\.csv\\?`),
      ),
    ]);
    expect(await new DynamoExportJobs(fixture.dynamo, tableName).completion(job.id)).toBeNull();
  });

  it('is refused a key by the Athena engine: outside the exports bucket, or outside its prefix', () => {
    // Prepare
    const engine = new AthenaExportEngine({} as AthenaClient, {} as S3Client, {
      workGroup: 'exports',
      database: 'driftless',
      bucket: EXPORTS_BUCKET,
      prefix: EXPORTS_PREFIX,
    });
    // Act, Assess
    expect(engine.objectKeyOf(`s3://${EXPORTS_BUCKET}/${EXPORTS_PREFIX}id/part-0.parquet`)).toBe(
      `${EXPORTS_PREFIX}id/part-0.parquet`,
    );
    expect(engine.objectKeyOf(oldResult)).toBeNull();
    expect(engine.objectKeyOf(`s3://${EXPORTS_BUCKET}/elsewhere/file.csv`)).toBeNull();
  });
});

describe('export records expire with their files', () => {
  it('gives the job, its completion and its files’ hashes the table’s TTL: a day past the files’ retention', async () => {
    // Prepare
    const retentionMs = 10 * DAY;
    const jobs = new DynamoExportJobs(fixture.dynamo, tableName, retentionMs);
    const table = new Table(fixture.dynamo, tableName);
    const job = csvJob(Date.now());
    const objectKey = `${EXPORTS_PREFIX}results/${job.id}.csv`;
    const hashedAt = job.createdAt + 60_000;
    const completedAt = job.createdAt + 120_000;
    // Act
    await jobs.put(job);
    await jobs.recordFileHash(objectKey, { sha256: 'ab'.repeat(32), bytes: 10 }, hashedAt);
    await jobs.complete(job.id, {
      completedAt,
      rows: 1,
      files: [{ file: `s3://${EXPORTS_BUCKET}/${objectKey}`, sha256: 'ab'.repeat(32), bytes: 10 }],
    });
    // Assess
    const expiry = async (key: Parameters<Table['get']>[0]) =>
      Number((await table.get(key, true))?.[TABLE_ATTRIBUTES.expiresAt]?.N);
    const expected = (writtenAt: number) => Math.ceil((writtenAt + retentionMs + DAY) / 1000);
    expect(await expiry(exportKey(job.id))).toBe(expected(job.createdAt));
    expect(await expiry(exportFileHashKey(objectKey))).toBe(expected(hashedAt));
    expect(await expiry(exportCompletionKey(job.id))).toBe(expected(completedAt));
  });
});
