import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import type { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { createApi } from '../../functions/api/app';
import {
  defineView,
  fieldsOf,
  SKETCH_ERROR_ABSOLUTE_SLACK,
  SKETCH_OVER_BOUND_SHARE,
  sketchRelativeErrorBound,
  sum,
  withinSketchBound,
} from '../../functions/core';
import { SpeedProcessor } from '../../functions/speed/processor';
import { Quarantine } from '../../functions/speed/quarantine';
import { type LocalApiServer, startApiGateway } from '../../local/api-server';
import { apiClient } from '../support/api-client';
import { apiDeps } from '../support/api-deps';
import { type Order, runBatch, settledNowTemplate, startBatchStack } from '../support/batch-stack';
import { driftless } from '../support/cli';
import { customers } from '../support/distinct-views';
import { quietLogger, quietMetrics, startFixture } from '../support/fixture';
import { kinesisEvent, kinesisRecord, sequenceNumber } from '../support/kinesis-factory';

const HOUR = 3_600_000;
const API_KEY = 'distinct-test-key';
const order = fieldsOf(orderEvents);

/** A view without a distinct measure, served alongside: its answers carry no `distinct`. */
const amounts = defineView(orderEvents, {
  name: 'amounts',
  version: 1,
  bucket: 'hour',
  groupBy: ['country'],
  measures: { amount: sum(order.amount) },
});
const views = [customers, amounts];

const countries = ['US', 'FR', 'DE'];
const now = Date.now();
const hourStart = now - (now % HOUR);
/** Ten hours of orders up to now; customers repeat within an hour, and some orders have none. */
const orders: (Order & { type: string; customer?: string })[] = Array.from({ length: 900 }, (_, index) => ({
  type: orderEvents.name,
  id: `o-${index}`,
  ts: hourStart - 9 * HOUR + Math.floor((index * (now - hourStart + 9 * HOUR)) / 900),
  country: countries[index % countries.length] as string,
  amount: 100 + index,
  status: 'paid',
  ...(index % 11 === 0 ? {} : { customer: `c-${(index * 7) % 61}` }),
}));

/** The exact distinct customers of each (hour, country): `bucket|country` -> count. */
const exactCustomers = new Map<string, number>();
{
  const sets = new Map<string, Set<string>>();
  for (const { ts, country, customer } of orders) {
    if (customer === undefined) continue;
    const key = `${ts - (ts % HOUR)}|${country}`;
    sets.set(key, (sets.get(key) ?? new Set()).add(customer));
  }
  for (const [key, set] of sets) exactCustomers.set(key, set.size);
}

let fixture: Awaited<ReturnType<typeof startFixture>>;
let stack: Awaited<ReturnType<typeof startBatchStack>>;
let server: LocalApiServer;
let call: ReturnType<typeof apiClient>;
let firstWatermark: number;
let watermark: number;
let secondRun: string;

// A batch run, the speed layer and the API over one table: the local pipeline with this test's views.
beforeAll(async () => {
  fixture = await startFixture();
  stack = await startBatchStack(fixture, settledNowTemplate, { name: 'distinct', views });
  await stack.send(orders);
  const processor = new SpeedProcessor({
    catalogs,
    views,
    store: stack.deps.speed,
    quarantine: new Quarantine(stack.platform.bucket('quarantine')),
    logger: quietLogger(),
    metrics: quietMetrics(),
    retentionMs: 72 * HOUR,
  });
  const records = orders.map((event, index) =>
    kinesisRecord({
      shardId: 'shardId-000000000001',
      sequenceNumber: sequenceNumber(index),
      data: JSON.stringify(event),
    }),
  );
  for (let offset = 0; offset < records.length; offset += 300) {
    const response = await processor.process(kinesisEvent(records.slice(offset, offset + 300)));
    expect(response.batchItemFailures).toEqual([]);
  }
  // Two runs: the second settles [first W, W), which reconcile compares.
  await runBatch(stack.deps, { input: { now: now - 5 * HOUR } });
  firstWatermark = (await stack.deps.store.getManifest('customers'))?.watermark ?? 0;
  await runBatch(stack.deps);
  const manifest = await stack.deps.store.getManifest('customers');
  watermark = manifest?.watermark ?? 0;
  secondRun = manifest?.lastRunId ?? '';
  const api = createApi(
    apiDeps("this test's API", {
      views,
      batchStore: stack.deps.store,
      speedStore: stack.deps.speed as DynamoSpeedStore,
    }),
  );
  server = await startApiGateway((event, context) => api.handle(event, context), {
    template: settledNowTemplate,
    apiKey: API_KEY,
  });
  call = apiClient(
    server.url,
    views.map((view) => view.name),
    API_KEY,
  );
}, 120_000);

afterAll(async () => {
  await server?.close();
  await stack?.close();
  await fixture?.close();
});

const from = hourStart - 9 * HOUR;
const to = hourStart + HOUR;

describe('a view with a distinct measure, served', () => {
  it('marks batch buckets exact and speed buckets sketch, exact values below W and estimates within the bound from it', async () => {
    // Act
    const series = await call('GET', `/views/customers/series?from=${from}&to=${to}`);
    // Assess
    expect(series.status).toBe(200);
    expect(watermark).toBeGreaterThan(firstWatermark);
    expect(series.body.watermark).toBe(watermark);
    const buckets = series.body.buckets as {
      start: number;
      source: string;
      distinct: string;
      groups: { key: { country: string }; values: { customers: number } }[];
    }[];
    expect(buckets.length).toBe(10);
    for (const bucket of buckets) {
      expect(bucket.distinct).toBe(bucket.start < watermark ? 'exact' : 'sketch');
      expect(bucket.source).toBe(bucket.start < watermark ? 'batch' : 'speed');
      for (const group of bucket.groups) {
        const exact = exactCustomers.get(`${bucket.start}|${group.key.country}`) ?? 0;
        if (bucket.distinct === 'exact') expect(group.values.customers).toBe(exact);
        else expect(withinSketchBound(group.values.customers, exact, customers.distinctPrecision)).toBe(true);
      }
    }
    expect(buckets.some((bucket) => bucket.distinct === 'sketch')).toBe(true);
  });

  it('leaves the series of a view without a distinct measure unmarked', async () => {
    const series = await call('GET', `/views/amounts/series?from=${from}&to=${to}&step=day`);
    expect(series.status).toBe(200);
    for (const bucket of series.body.buckets) expect(bucket).not.toHaveProperty('distinct');
  });

  it('states the sketch bound in GET /views for the distinct view only', async () => {
    const answer = await call('GET', '/views');
    const byName = Object.fromEntries(
      answer.body.views.map((view: { name: string; distinct: unknown }) => [view.name, view.distinct]),
    );
    expect(byName).toEqual({
      customers: {
        measures: ['customers'],
        precision: customers.distinctPrecision,
        standardError: expect.any(Number),
        errorBound: sketchRelativeErrorBound(customers.distinctPrecision),
        errorSlack: SKETCH_ERROR_ABSOLUTE_SLACK,
        overBoundShare: SKETCH_OVER_BOUND_SHARE,
      },
      amounts: null,
    });
  });

  it('refuses a step coarser than the bucket with a 400 naming step', async () => {
    const answer = await call('GET', `/views/customers/series?from=${from}&to=${to}&step=day`);
    expect(answer.status).toBe(400);
    expect(answer.body.details).toEqual({ parameter: 'step' });
    expect(answer.body.message).toMatch(
      /^step: .*distinct counts of different buckets do not add; define a view/,
    );
  });

  it('ranks over several buckets without the distinct measure, saying why, and refuses to rank by it', async () => {
    const range = `from=${from}&to=${watermark}`;
    // Act
    const top = await call('GET', `/views/customers/top?${range}&measure=orders`);
    const byDistinct = await call('GET', `/views/customers/top?${range}&measure=customers`);
    // Assess
    expect(top.status).toBe(200);
    expect(top.body.omitted).toEqual([
      { measure: 'customers', reason: expect.stringMatching(/not the sum/) },
    ]);
    expect(top.body).not.toHaveProperty('distinct');
    expect(top.body.groups).toHaveLength(countries.length);
    for (const group of top.body.groups) expect(Object.keys(group.values)).toEqual(['orders']);
    expect(byDistinct.status).toBe(400);
    expect(byDistinct.body.details).toEqual({ parameter: 'measure' });
    expect(byDistinct.body.message).toMatch(/^measure: cannot rank by customers: /);
  });

  it('ranks by the distinct measure within one bucket, saying whether it is exact', async () => {
    const bucket = watermark - HOUR;
    const top = await call('GET', `/views/customers/top?from=${bucket}&to=${watermark}&measure=customers`);
    expect(top.status).toBe(200);
    expect(top.body.distinct).toBe('exact');
    expect(top.body).not.toHaveProperty('omitted');
    const values = top.body.groups.map((group: { values: { customers: number } }) => group.values.customers);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    expect(values[0]).toBe(
      Math.max(...countries.map((country) => exactCustomers.get(`${bucket}|${country}`) ?? 0)),
    );
  });
});

describe('the drift report of a distinct measure', () => {
  it("reports the sketch's error on each settled row against the exact count, and no drift", async () => {
    // Act
    const drift = await call('GET', '/drift?limit=1');
    // Assess
    const reports = drift.body.views.find((view: { view: string }) => view.view === 'customers')?.reports;
    const report = reports?.[0];
    expect(report).toMatchObject({
      runId: secondRun,
      from: firstWatermark,
      to: watermark,
      rowsDiffering: 0,
      driftRatio: 0,
    });
    const error = report.sketchError.customers;
    const settled = [...exactCustomers.keys()].filter((key) => {
      const bucket = Number(key.split('|')[0]);
      return bucket >= firstWatermark && bucket < watermark;
    });
    expect(error).toMatchObject({
      precision: customers.distinctPrecision,
      errorBound: sketchRelativeErrorBound(customers.distinctPrecision),
      errorSlack: SKETCH_ERROR_ABSOLUTE_SLACK,
      rowsCompared: settled.length,
      rowsOverBound: 0,
    });
    for (const row of error.rows)
      expect(Number(row.exact)).toBe(exactCustomers.get(`${row.bucket}|${row.group[0]}`));
  });

  it('is printed by `driftless drift` as sketch error lines', async () => {
    // Act
    const run = await driftless(['drift', '--limit', '1'], { api: server.url, apiKey: API_KEY });
    // Assess
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    const heading = lines.findIndex((line) => line.startsWith('sketch error'));
    expect(heading).toBeGreaterThan(0);
    expect(lines[heading + 1]).toMatch(
      /^view\s+run\s+measure\s+rowsCompared\s+meanError\s+largestError\s+largestAt\s+bound\s+overBound$/,
    );
    expect(lines[heading + 3]).toMatch(
      new RegExp(`^customers\\s+${secondRun}\\s+customers\\s+\\d+\\s+.*max\\(±6\\.50%,±3\\)\\s+0$`),
    );
  });
});
