import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AttributeValue,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogs } from '../../events';
import { type BatchProvenance, DynamoBatchStore } from '../../functions/adapters/dynamo-batch-store';
import { DynamoExportJobs, EXPORT_VERSION_RANGES } from '../../functions/adapters/exports';
import { Table } from '../../functions/adapters/table';
import { LEDGER_CLOCK_SKEW_MS } from '../../functions/api/routes/exports';
import { archiveDayPrefix } from '../../functions/commons/layout';
import {
  dayOf,
  daysBetween,
  daysInRanges,
  dedupeReadRanges,
  definitionHash,
  type EventRecord,
} from '../../functions/core';
import { consecutiveDayRanges } from '../../functions/core/days';
import { exportFileHashKey, restatementRunKey } from '../../functions/core/keys';
import { exportHasherFunction } from '../../functions/exports/hasher';
import { objectCreatedEvent } from '../../local/eventbridge';
import { bucketDir, localPlatform } from '../../local/platform';
import { LocalNames, templateFunctions } from '../../local/template';
import { revenue } from '../../views';
import { batchRunThroughApi } from '../support/batch-runs';
import { sentOrders } from '../support/events';
import { startTestRuntime, type TestRuntime } from '../support/runtime';
import { waitFor } from '../support/wait';

const HOUR = 3_600_000;
const DAY = 86_400_000;

let runtime: TestRuntime['runtime'];
let call: TestRuntime['call'];
let stop: () => Promise<void>;
let store: DynamoBatchStore;

// The runtime synthesizes the stack first: seconds, more on a busy machine.
beforeAll(async () => {
  ({ runtime, call, stop } = await startTestRuntime('provenance'));
  store = new DynamoBatchStore(runtime.emulators.dynamo, runtime.tableName, catalogs);
}, 60_000);

afterAll(() => stop?.());

const now = Date.now();
const hourStart = now - (now % HOUR);
/** The calendar month before this one: closed, all of it below any watermark of today. */
const thisMonth = new Date(now);
const monthStart = Date.UTC(thisMonth.getUTCFullYear(), thisMonth.getUTCMonth() - 1, 1);
const monthEnd = Date.UTC(thisMonth.getUTCFullYear(), thisMonth.getUTCMonth(), 1);
const countries = ['US', 'FR', 'DE'];

/** Paid orders over the closed month, and a few in the current hour for the speed layer. */
const monthOrders: EventRecord[] = Array.from({ length: 240 }, (_, index) => ({
  id: `month-${index}`,
  ts: monthStart + Math.floor((index * (monthEnd - monthStart)) / 240),
  country: countries[index % countries.length],
  amount: 1_000 + index,
  status: 'paid',
}));
const currentOrders: EventRecord[] = Array.from({ length: 5 }, (_, index) => ({
  id: `now-${index}`,
  ts: hourStart + index,
  country: 'US',
  amount: 100,
  status: 'paid',
}));
/** One order of the closed month that arrives after its month was computed and exported: a country new to its hour. */
const lateOrder = {
  id: 'late-1',
  ts: monthStart + 9 * DAY + 5 * HOUR + 123,
  country: 'JP',
  amount: 777,
  status: 'paid',
};

let archived = 0;
async function post(events: readonly EventRecord[]) {
  const answer = await call('POST', '/events', sentOrders(events));
  expect(answer.status).toBe(202);
  expect(answer.body.accepted).toBe(events.length);
  archived += events.length;
  await waitFor(() => runtime.archiveConsumer.stats.records >= archived, { what: 'the archive' });
}

/** Runs the batch layer through the API, to its end; the run's answer. */
async function runBatch() {
  return batchRunThroughApi(call, { timeoutMs: 60_000 });
}

/** The archive objects and bytes of these days, as a listing of the archive folder finds them. */
async function listedArchive(days: readonly string[]) {
  const listed = { objects: 0, bytes: 0 };
  for (const day of days) {
    const folder = join(runtime.archiveDir, archiveDayPrefix('order', day));
    const names = await readdir(folder).catch(() => [] as string[]);
    for (const name of names) {
      listed.objects++;
      listed.bytes += (await stat(join(folder, name))).size;
    }
  }
  return listed;
}

/** The days a query computing `days` reads: them and the dedupe horizon before each. */
const readDays = (days: readonly string[]) =>
  daysInRanges(dedupeReadRanges(consecutiveDayRanges(days), revenue.events.dedupeHorizonDays));

/** The export hasher as the template builds it, with the local platform: what EventBridge invokes. */
function localHasher() {
  const names = new LocalNames(runtime.template);
  const fn = templateFunctions(runtime.template, names).find(
    (candidate) => candidate.definition.name === exportHasherFunction.name,
  );
  if (fn === undefined) throw new Error('the template has no export hasher');
  const bucketsDir = join(runtime.dataDir, 'buckets');
  const bucket = fn.environment.EXPORT_BUCKET as string;
  const platform = localPlatform({
    dynamo: runtime.emulators.dynamo,
    kinesis: runtime.emulators.kinesis,
    bucketsDir,
  });
  return {
    bucket,
    bucketDir: bucketDir(bucketsDir, bucket),
    handler: exportHasherFunction.create({ ...fn.environment }, platform) as (
      event: unknown,
    ) => Promise<void>,
  };
}

/** An export's `restated` when the ledger has nothing after it. */
const nothingRestated = {
  count: 0,
  valuesChanged: 0,
  countStopped: false,
  cursor: null,
  restatements: [],
  incomplete: [],
  abandoned: [],
  watermarkRetreats: [],
};

const monthDays = [...new Set(monthOrders.map((order) => dayOf(order.ts as number)))].sort();

describe('provenance of exact numbers, and exports flagged when restated', () => {
  let firstRun: { id: string; watermark: number };
  let exportId: string;
  let exportTakenAt: number;
  let exportRevision: number;

  it('a commit records each batch version: its run, watermark, revision, definition hash, days and the archive its loads read', async () => {
    // Prepare
    await post([...monthOrders, ...currentOrders]);
    // Act
    const run = await runBatch();
    // Assess
    const committed = run.views.find((view: { view: string }) => view.view === 'revenue');
    firstRun = { id: run.id, watermark: committed.watermark };
    const manifest = await store.getManifest('revenue');
    if (manifest === null) throw new Error('the run committed no manifest of revenue');
    const record = await store.provenance.get('revenue', run.id);
    const days = Object.keys(manifest.days).sort();
    expect(record).toEqual({
      view: 'revenue',
      batchVersion: run.id,
      runId: run.id,
      viewVersion: revenue.version,
      definitionHash: definitionHash(revenue),
      watermark: firstRun.watermark,
      previousWatermark: null,
      revision: manifest.revision,
      committedAt: manifest.committedAt,
      days: { count: days.length, ranges: consecutiveDayRanges(days) },
      archive: { ...(await listedArchive(readDays(days))), loads: expect.any(Number) },
    } satisfies BatchProvenance);
    expect(days).toEqual(expect.arrayContaining(monthDays));
    expect(record?.archive.objects).toBeGreaterThan(0);
  });

  it('a series answer cites the batch version of each batch bucket, with its provenance; speed buckets cite none', async () => {
    // Act
    const series = await call('GET', `/views/revenue/series?from=${monthStart}&to=${hourStart + HOUR}`);
    // Assess
    expect(series.status).toBe(200);
    const batch = series.body.buckets.filter((bucket: { source: string }) => bucket.source === 'batch');
    const speed = series.body.buckets.filter((bucket: { source: string }) => bucket.source !== 'batch');
    expect(batch.length).toBeGreaterThan(0);
    expect(speed.length).toBeGreaterThan(0);
    for (const bucket of batch) expect(bucket.batchVersion).toBe(firstRun.id);
    for (const bucket of speed) expect(bucket).not.toHaveProperty('batchVersion');
    expect(series.body.provenance).toEqual({
      [firstRun.id]: await store.provenance.get('revenue', firstRun.id),
    });
  });

  it('an export records what it was taken against and, once finished, the sha256 of each file it wrote', async () => {
    // Act
    const started = await call('POST', '/exports', { view: 'revenue', from: monthStart, to: monthEnd });
    expect(started.status).toBe(202);
    exportId = started.body.id;
    const job = await waitFor(async () => {
      const answer = (await call('GET', `/exports/${exportId}`)).body;
      return answer.completed === null && answer.status !== 'FAILED' ? null : answer;
    });
    // Assess
    expect(job.status).toBe('SUCCEEDED');
    exportTakenAt = job.createdAt;
    const manifest = await store.getManifest('revenue');
    exportRevision = manifest?.revision as number;
    expect(job.provenance).toEqual({
      definitionHash: definitionHash(revenue),
      groupBy: ['country'],
      measures: ['revenue', 'orders'],
      manifestRevision: manifest?.revision,
      manifestCommittedAt: manifest?.committedAt,
      batchVersions: { [firstRun.id]: consecutiveDayRanges(monthDays) },
      archive: {
        ...(await listedArchive(readDays(daysBetween(monthStart, monthEnd)))),
        dayRanges: dedupeReadRanges(
          consecutiveDayRanges(daysBetween(monthStart, monthEnd)),
          revenue.events.dedupeHorizonDays,
        ),
      },
    });
    expect(job.completed.files).toHaveLength(1);
    const [file] = job.completed.files;
    const body = Buffer.from(await (await fetch(job.downloads[0])).arrayBuffer());
    expect(file.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(file.bytes).toBe(body.byteLength);
    expect(job.filesHashed).toBeNull();
    expect(job.restated).toEqual({
      ...nothingRestated,
      sinceRevision: exportRevision,
      since: (manifest?.committedAt as number) - LEDGER_CLOCK_SKEW_MS,
    });
  });

  it('a completed export’s record is never replaced', async () => {
    // Prepare
    const jobs = new DynamoExportJobs(runtime.emulators.dynamo, runtime.tableName);
    const recorded = await jobs.completion(exportId);
    // Act
    const kept = await jobs.complete(exportId, { completedAt: 1, rows: 0, files: [] });
    // Assess
    expect(recorded).not.toBeNull();
    expect(kept).toEqual(recorded);
    expect(await jobs.completion(exportId)).toEqual(recorded);
    expect((await call('GET', `/exports/${exportId}`)).body.completed).toEqual(recorded);
  });

  it('the API hashes no file: an export completes once the export hasher has recorded each file, as S3 announced it', async () => {
    // Prepare: an export the engine finished, whose file's hash record is gone (as if its event were still on its way)
    const started = await call('POST', '/exports', {
      view: 'revenue',
      from: monthStart,
      to: monthStart + 7 * DAY,
    });
    expect(started.status).toBe(202);
    const id: string = started.body.id;
    const hasher = localHasher();
    const folder = join(hasher.bucketDir, 'exports', id);
    await waitFor(async () => (await readdir(folder).catch(() => [] as string[])).includes('outcome.json'), {
      what: `export ${id} to finish`,
    });
    const key = `exports/${id}/${id}.csv`;
    await runtime.emulators.dynamo.send(
      new DeleteItemCommand({ TableName: runtime.tableName, Key: Table.key(exportFileHashKey(key)) }),
    );
    // Act
    const finished = (await call('GET', `/exports/${id}`)).body;
    const recordedBeforeHash = await new DynamoExportJobs(
      runtime.emulators.dynamo,
      runtime.tableName,
    ).completion(id);
    const body = await readFile(join(folder, `${id}.csv`));
    await hasher.handler(objectCreatedEvent(hasher.bucket, { key, body }, new Date(), 0));
    const completed = (await call('GET', `/exports/${id}`)).body;
    // Assess
    expect(finished).toMatchObject({
      status: 'SUCCEEDED',
      completed: null,
      filesHashed: { hashed: 0, of: 1 },
    });
    expect(recordedBeforeHash).toBeNull();
    expect(completed.filesHashed).toBeNull();
    expect(completed.completed.files).toEqual([
      {
        file: expect.stringContaining(`${id}.csv`),
        sha256: createHash('sha256').update(body).digest('hex'),
        bytes: body.byteLength,
      },
    ]);
  });

  it('a late event restates the closed month: the ledger lists it as late-events, and the export taken before is flagged', async () => {
    // Prepare
    await post([lateOrder]);
    // Act
    const run = await runBatch();
    // Assess
    const bucket = lateOrder.ts - (lateOrder.ts % HOUR);
    const ledger = await call(
      'GET',
      `/views/revenue/restatements?since=${exportTakenAt}&from=${monthStart}&to=${monthEnd}`,
    );
    expect(ledger.status).toBe(200);
    const restated = ledger.body.restatements;
    const restatedAs = {
      bucket,
      group: { country: 'JP' },
      runId: run.id,
      batchVersion: run.id,
      cause: 'late-events',
    };
    expect(restated).toHaveLength(2);
    expect(restated).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ...restatedAs, measure: 'revenue', old: null, new: 777 }),
        expect.objectContaining({ ...restatedAs, measure: 'orders', old: null, new: 1 }),
      ]),
    );
    expect(restated[0].previousBatchVersion).toBe(firstRun.id);
    const job = (await call('GET', `/exports/${exportId}`)).body;
    expect(job.restated).toEqual({
      ...nothingRestated,
      sinceRevision: exportRevision,
      since: expect.any(Number),
      count: restated.length,
      valuesChanged: 2,
      restatements: restated,
    });
    expect(restated.every((entry: { revision: number }) => entry.revision > exportRevision)).toBe(true);
    // The late day's buckets now cite the new version, whose record says what it replaced: the days the
    // run recomputed (the late day, and the dedupe horizon after it).
    const series = await call('GET', `/views/revenue/series?from=${bucket}&to=${bucket + HOUR}`);
    expect(series.body.buckets).toEqual([expect.objectContaining({ start: bucket, batchVersion: run.id })]);
    const manifest = await store.getManifest('revenue');
    const recomputed = Object.entries(manifest?.days ?? {}).flatMap(([day, version]) =>
      version === run.id ? [day] : [],
    );
    expect(recomputed).toContain(dayOf(bucket));
    expect(series.body.provenance[run.id]).toMatchObject({
      batchVersion: run.id,
      previousWatermark: firstRun.watermark,
      revision: manifest?.revision,
      days: { count: recomputed.length, ranges: consecutiveDayRanges(recomputed) },
    });
  });
  it('an export is flagged by manifest revision, not time: one taken against the revision before a change, after it was recorded, is flagged too', async () => {
    // Prepare: an export recorded after the late run committed, yet taken against the revision before it
    // (the window between a commit's time and its manifest write)
    const jobs = new DynamoExportJobs(runtime.emulators.dynamo, runtime.tableName);
    const taken = await jobs.get(exportId);
    if (taken === null) throw new Error('the first export has no job');
    const id = randomUUID();
    await jobs.put({ ...taken, id, createdAt: Date.now() });
    // Act
    const answer = (await call('GET', `/exports/${id}`)).body;
    // Assess
    expect(answer.createdAt).toBeGreaterThan(
      Math.max(...answer.restated.restatements.map((entry: { at: number }) => entry.at)),
    );
    expect(answer.restated).toMatchObject({ sinceRevision: exportRevision, count: 2, countStopped: false });
  });

  it('says when a change after the export is still being recorded and has not reached its days', async () => {
    // Prepare: the late run's ledger header as a commit that died diffing leaves it
    const manifest = await store.getManifest('revenue');
    if (manifest === null) throw new Error('no manifest of revenue');
    const key = {
      TableName: runtime.tableName,
      Key: Table.key(restatementRunKey('revenue', manifest.committedAt, manifest.lastRunId)),
    };
    const { Item: header } = await runtime.emulators.dynamo.send(
      new GetItemCommand({ ...key, ConsistentRead: true }),
    );
    if (header === undefined) throw new Error('the late run left no ledger header');
    const put = (item: Record<string, AttributeValue>) =>
      runtime.emulators.dynamo.send(new PutItemCommand({ TableName: runtime.tableName, Item: item }));
    await put({ ...header, complete: { BOOL: false }, throughDay: { S: '' } });
    try {
      // Act
      const answer = (await call('GET', `/exports/${exportId}`)).body;
      // Assess
      expect(answer.restated.incomplete).toEqual([
        { runId: manifest.lastRunId, revision: manifest.revision, at: manifest.committedAt, throughDay: '' },
      ]);
    } finally {
      await put(header);
    }
    expect((await call('GET', `/exports/${exportId}`)).body.restated.incomplete).toEqual([]);
  });

  it('nets out a change undone by a rollback: the entries stay listed, and no value of the export differs', async () => {
    // Act: roll the late run back, through the API
    const rolledBack = await call('POST', '/views/revenue/rollback', {});
    // Assess
    expect(rolledBack.status).toBe(200);
    const answer = (await call('GET', `/exports/${exportId}`)).body;
    expect(answer.restated).toMatchObject({ count: 4, valuesChanged: 0 });
    expect(answer.restated.restatements.map(({ cause }: { cause: string }) => cause)).toEqual([
      'late-events',
      'late-events',
      'rollback',
      'rollback',
    ]);
  });

  it('flags the buckets of an export a rollback moved the watermark back over: they are no longer exact', async () => {
    // Prepare: a rollback's ledger header whose watermark moved back from after the month to its 11th day
    const manifest = await store.getManifest('revenue');
    if (manifest === null) throw new Error('no manifest of revenue');
    const retreat = {
      view: 'revenue',
      runId: `rollback-r${manifest.revision + 1}`,
      revision: manifest.revision + 1,
      previousRevision: manifest.revision,
      at: Date.now(),
      cause: 'rollback' as const,
      watermark: { before: monthEnd + DAY, after: monthStart + 10 * DAY },
      complete: true,
      throughDay: dayOf(monthEnd),
      entries: 0,
    };
    await store.restatements.begin(retreat);
    // Act
    const answer = (await call('GET', `/exports/${exportId}`)).body;
    // Assess
    expect(answer.restated.watermarkRetreats).toEqual([
      {
        runId: retreat.runId,
        revision: retreat.revision,
        at: retreat.at,
        from: monthStart + 10 * DAY,
        to: monthEnd,
      },
    ]);
  });

  it('counts a change of hundreds of days whose last days fall in the export exactly, in one answer', async () => {
    // Prepare: a definition change after the export restating 200 days before its month and its last 3
    // days, one ledger item a day in day order (the days before come first)
    const before = (await call('GET', `/exports/${exportId}`)).body.restated;
    const manifest = await store.getManifest('revenue');
    if (manifest === null) throw new Error('no manifest of revenue');
    const days = [
      ...Array.from({ length: 200 }, (_, day) => monthStart - (200 - day) * DAY),
      ...[3, 2, 1].map((back) => monthEnd - back * DAY),
    ];
    const change = {
      view: 'revenue',
      runId: 'run-definition-change',
      revision: manifest.revision + 2,
      previousRevision: manifest.revision + 1,
      at: Date.now(),
      cause: 'definition-change' as const,
      watermark: { before: manifest.watermark, after: manifest.watermark },
      complete: true,
      throughDay: dayOf(monthEnd - DAY),
      entries: days.length,
    };
    await store.restatements.begin(change);
    for (const day of days)
      await store.restatements.recordDay(change, dayOf(day), [
        {
          bucket: day + 5 * HOUR,
          group: { country: 'ZZ' },
          measure: 'revenue',
          old: null,
          new: 5,
          batchVersion: 'run-new',
          previousBatchVersion: 'run-old',
          cause: 'definition-change',
        },
      ]);
    // Act
    const answer = (await call('GET', `/exports/${exportId}`)).body;
    // Assess: only its 3 days in the export's month, counted and changed, with nothing left unread
    expect(answer.restated).toMatchObject({
      count: before.count + 3,
      valuesChanged: before.valuesChanged + 3,
      countStopped: false,
      cursor: null,
    });
  });

  it('refuses, before its query starts, an export whose days cite more batch-version ranges than a job records', async () => {
    // Prepare: a manifest of orders_per_minute whose days before its watermark alternate between two versions
    const manifest = await store.getManifest('orders_per_minute');
    if (manifest === null) throw new Error('no manifest of orders_per_minute');
    const first = manifest.watermark - (manifest.watermark % DAY) - (EXPORT_VERSION_RANGES + 1) * DAY;
    const alternating = Object.fromEntries(
      daysBetween(first, manifest.watermark).map((day, index) => [day, index % 2 === 0 ? 'run-a' : 'run-b']),
    );
    await store.commitManifest(
      { ...manifest, revision: manifest.revision + 1, days: { ...manifest.days, ...alternating } },
      manifest.revision,
    );
    const hasher = localHasher();
    const exportsBefore = await readdir(join(hasher.bucketDir, 'exports'));
    // Act
    const answer = await call('POST', '/exports', {
      view: 'orders_per_minute',
      from: first,
      to: manifest.watermark,
    });
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.details.parameter).toBe('to');
    expect(await readdir(join(hasher.bucketDir, 'exports'))).toEqual(exportsBefore);
  });

  it('keeps the first provenance record of a batch version: a retried commit gets it back unchanged', async () => {
    // Prepare
    const recorded = await store.provenance.get('revenue', firstRun.id);
    if (recorded === null) throw new Error('no record of the first run');
    // Act
    const kept = await store.provenance.put({
      ...recorded,
      committedAt: recorded.committedAt + 1,
      revision: 999,
    });
    // Assess
    expect(kept).toEqual(recorded);
    expect(await store.provenance.get('revenue', firstRun.id)).toEqual(recorded);
  });
});
