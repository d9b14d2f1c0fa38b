import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogs } from '../../events';
import { DynamoBatchStore } from '../../functions/adapters/dynamo-batch-store';
import { MAX_ANSWER_BYTES } from '../../functions/api/limits';
import {
  BUCKET_WIDTH_MS,
  compileJs,
  dayOf,
  deduplicateEvents,
  type EventRecord,
  type ViewRow,
} from '../../functions/core';
import type { Runtime } from '../../local/runtime';
import { pageViews, revenue } from '../../views';
import { sentOrders } from '../support/events';
import { startTestRuntime, type TestRuntime } from '../support/runtime';
import { answeredSeries, expectedSeries, seriesKey } from '../support/series';
import { waitFor } from '../support/wait';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const countries = ['US', 'FR', 'DE', 'JP'];

let runtime: Runtime;
let stop: () => Promise<void>;
let call: TestRuntime['call'];
const now = Date.now();
const hourStart = now - (now % HOUR);

/** Orders over the last two days and the current hour, some with discounts, some not paid. */
const orders: EventRecord[] = Array.from({ length: 1_200 }, (_, index) => ({
  type: 'order',
  id: `order-${index}`,
  ts:
    index < 1_000
      ? now - 2 * DAY + Math.floor((index * 2 * DAY) / 1_000)
      : hourStart + ((index * 997) % (now - hourStart + 1)),
  country: countries[index % countries.length],
  amount: 1_000 + (index % 97),
  ...(index % 4 === 0 ? { discount: 125 } : {}),
  status: index % 5 === 0 ? 'refunded' : 'paid',
}));
/** Producer retries: the same events again. The speed layer counts them; the batch layer removes them. */
const duplicates = orders.filter((_, index) => index % 10 === 3);
const invalid = [
  ...sentOrders([
    { id: 'bad-1', ts: -5, amount: 10, status: 'paid' },
    { id: 'bad-2', ts: now, status: 'lost' },
  ]),
  'not an object',
];

async function postAll(events: readonly unknown[]) {
  for (let offset = 0; offset < events.length; offset += 500) {
    const answer = await call('POST', '/events', events.slice(offset, offset + 500));
    expect(answer.status).toBe(202);
  }
}

const seriesPath = (from: number, to: number, extra = '') =>
  `/views/revenue/series?from=${from}&to=${to}${extra}`;

// The runtime synthesizes the stack first: seconds, more on a busy machine.
beforeAll(async () => {
  ({ runtime, call, stop } = await startTestRuntime('api'));
}, 60_000);

afterAll(() => stop?.());

describe('the serving API over the local pipeline', () => {
  const from = now - 3 * DAY - ((now - 3 * DAY) % HOUR);
  const to = hourStart + HOUR;
  let runId: string;
  let watermark: number;

  it('takes a mixed batch and answers per index: an order, a page view, an unknown type and none', async () => {
    // Prepare
    const pageView = { type: 'page_view', id: 'mixed-v1', ts: now, path: '/docs', country: 'JP' };
    const mixed = [
      // Pending: it counts in no revenue, which the tests below hold to the orders above.
      { ...orders[0], id: 'mixed-o1', status: 'pending' },
      pageView,
      { ...pageView, id: 'mixed-v2', type: 'click' },
      { id: 'mixed-v3', ts: now, path: '/', country: 'JP' },
    ];
    // Act
    const answer = await call('POST', '/events', mixed);
    // Assess
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({
      accepted: 2,
      rejected: 2,
      errors: [
        {
          index: 2,
          message: 'unknown event type "click": one of order, page_view',
          fields: [{ field: 'type', message: 'unknown event type "click": one of order, page_view' }],
        },
        {
          index: 3,
          message: 'no type: one of order, page_view',
          fields: [{ field: 'type', message: 'no type: one of order, page_view' }],
        },
      ],
    });
    // The page view counts in the page-view view only (its hour, JP), and in no order view.
    const path = `/views/page_views/series?from=${hourStart}&to=${hourStart + HOUR}`;
    const truth = expectedSeries(pageViews, [pageView], hourStart, hourStart + HOUR);
    await waitFor(async () => {
      const series = await call('GET', path);
      expect(series.status).toBe(200);
      expect(answeredSeries(series.body)).toEqual(truth);
      return true;
    });
  });

  it('accepts valid events, names each invalid one by index, and counts them in the speed layer', async () => {
    const answer = await call('POST', '/events', [orders[0], ...invalid, orders[1]]);
    expect(answer.status).toBe(202);
    expect(answer.body.accepted).toBe(2);
    expect(answer.body.errors.map((error: { index: number }) => error.index)).toEqual([1, 2, 3]);
    expect(answer.body.errors[0].fields.map((field: { field: string }) => field.field)).toContain('ts');
    expect(answer.body.errors[1].fields.map((field: { field: string }) => field.field)).toEqual(
      expect.arrayContaining(['amount', 'status']),
    );
    await postAll([...orders.slice(2), ...duplicates]);

    const speedTruth = expectedSeries(revenue, [...orders, ...duplicates], from, to);
    await waitFor(async () => {
      const series = await call('GET', seriesPath(from, to));
      expect(series.status).toBe(200);
      expect(series.body.watermark).toBe(0);
      expect(answeredSeries(series.body)).toEqual(speedTruth);
      return true;
    });
  });

  it('serves exact batch buckets below the new watermark and speed from it, with no bucket counted twice', async () => {
    await waitFor(() => runtime.archiveConsumer.stats.records >= orders.length + duplicates.length, {
      what: `the archive (${JSON.stringify(runtime.archiveConsumer.stats)})`,
    });
    const started = await call('POST', '/batch-runs', {});
    expect(started.status).toBe(202);
    runId = started.body.id;
    await waitFor(async () => {
      const run = await call('GET', `/batch-runs/${runId}`);
      return run.body.status === 'SUCCEEDED';
    });
    const run = await call('GET', `/batch-runs/${runId}`);
    const revenueRun = run.body.views.find((view: { view: string }) => view.view === 'revenue');
    expect(revenueRun.committedByThisRun).toBe(true);
    watermark = revenueRun.watermark;
    expect(watermark).toBe(hourStart + (Date.now() - hourStart >= HOUR ? HOUR : 0));
    // A first run has no earlier watermark, so nothing to reconcile yet.
    expect(revenueRun.drift).toBeNull();
    // The run's record: each view committed, and no archive line skipped.
    expect(revenueRun.outcome).toMatchObject({ status: 'committed', watermark, previousWatermark: null });
    expect(run.body.skippedLines).toMatchObject({ lines: 0, objects: 0, error: null });

    const series = await call('GET', seriesPath(from, to));
    expect(series.body.watermark).toBe(watermark);
    expect(series.body.batchRun.id).toBe(runId);
    for (const bucket of series.body.buckets)
      expect(bucket.source).toBe(bucket.start < watermark ? 'batch' : 'speed');
    const exact = expectedSeries(revenue, deduplicateEvents(revenue, orders), from, watermark);
    const speed = expectedSeries(revenue, [...orders, ...duplicates], watermark, to);
    expect(answeredSeries(series.body)).toEqual(new Map([...exact, ...speed]));

    const exactOnly = await call('GET', seriesPath(from, to, '&exact=true'));
    expect(answeredSeries(exactOnly.body)).toEqual(exact);
    expect(exactOnly.body.batchRun.id).toBe(runId);
  });

  it('rolls hours up to days with the monoids, marking the day that straddles the watermark mixed', async () => {
    const daily = await call('GET', seriesPath(from, to, '&step=day'));
    expect(daily.status).toBe(200);
    const hourly = await call('GET', seriesPath(daily.body.from, daily.body.to));
    const sums = new Map<string, { revenue: number; orders: number }>();
    for (const bucket of hourly.body.buckets)
      for (const group of bucket.groups) {
        const key = seriesKey(bucket.start - (bucket.start % DAY), group.key);
        const sum = sums.get(key) ?? { revenue: 0, orders: 0 };
        sums.set(key, {
          revenue: sum.revenue + group.values.revenue,
          orders: sum.orders + group.values.orders,
        });
      }
    expect(answeredSeries(daily.body)).toEqual(sums);
    for (const bucket of daily.body.buckets) {
      const expected =
        bucket.start + DAY <= watermark ? 'batch' : bucket.start >= watermark ? 'speed' : 'mixed';
      expect(bucket.source).toBe(expected);
    }
  });

  it('gzips a series answer for clients that accept it, and sends the same JSON plain to others', async () => {
    const url = `${runtime.apiUrl}${seriesPath(from, to)}`;
    const key = { 'x-api-key': runtime.apiKey };
    const zipped = await fetch(url, { headers: { ...key, 'Accept-Encoding': 'gzip' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    const plain = await fetch(url, { headers: { ...key, 'Accept-Encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await zipped.json()).toEqual(await plain.json());
  });

  it('filters on a group field and ranks groups by a measure', async () => {
    const us = await call('GET', seriesPath(from, to, '&country=US'));
    for (const bucket of us.body.buckets)
      for (const group of bucket.groups) expect(group.key).toEqual({ country: 'US' });
    expect(us.body.buckets.length).toBeGreaterThan(0);

    const top = await call('GET', `/views/revenue/top?from=${from}&to=${watermark}&measure=revenue&limit=2`);
    expect(top.status).toBe(200);
    const totals = new Map<string, bigint>();
    for (const row of compileJs(revenue).reduce(deduplicateEvents(revenue, orders)).sorted())
      if (row.bucket >= from && row.bucket < watermark)
        totals.set(
          String(row.group[0]),
          (totals.get(String(row.group[0])) ?? 0n) + (row.values.revenue ?? 0n),
        );
    const ranked = [...totals.entries()].sort((a, b) => (a[1] > b[1] ? -1 : a[1] < b[1] ? 1 : 0)).slice(0, 2);
    expect(
      top.body.groups.map((group: { key: { country: string }; values: { revenue: number } }) => [
        group.key.country,
        BigInt(group.values.revenue),
      ]),
    ).toEqual(ranked);
  });

  it('answers a question asked again anew once the speed layer counts more, each filter apart', async () => {
    const latest = async (extra: string) => {
      const series = await call('GET', seriesPath(from, to, extra));
      return answeredSeries(series.body).get(seriesKey(hourStart, { country: extra.split('=')[1] })) as
        | { revenue: number; orders: number }
        | undefined;
    };
    // Asked twice each: the second answers are the kept ones.
    const before = { US: await latest('&country=US'), FR: await latest('&country=FR') };
    expect(await latest('&country=US')).toEqual(before.US);
    expect(await latest('&country=FR')).toEqual(before.FR);
    await postAll([{ type: 'order', id: 'again-1', ts: now, country: 'US', amount: 7, status: 'paid' }]);
    const afterUs = await waitFor(async () => {
      const us = await latest('&country=US');
      return us !== undefined && us.orders === (before.US?.orders ?? 0) + 1 ? us : undefined;
    });
    expect(afterUs?.revenue).toBe((before.US?.revenue ?? 0) + 7);
    expect(await latest('&country=FR')).toEqual(before.FR);
  });

  // GET /views carries no drift: a run's drift is in GET /batch-runs/{id} and GET /drift (tested below).
  it('lists views with their watermark, last batch run and speed freshness', async () => {
    const asked = Date.now();
    const listed = await call('GET', '/views');
    const answered = Date.now();
    const summary = listed.body.views.find((view: { name: string }) => view.name === 'revenue');
    expect(summary).toMatchObject({
      version: 1,
      bucket: 'hour',
      groupBy: ['country'],
      watermark,
      batchRun: { id: runId },
    });
    expect(summary.measures).toEqual({ revenue: 'sum', orders: 'count' });
    // No distinct measure: no sketch bound, and its series buckets carry no `distinct`.
    expect(summary.distinct).toBeNull();
    expect(summary.speed.latestBucket).toBe(hourStart);
    // Freshness: how far the latest speed bucket trails the API's now.
    expect(summary.speed.lagMs).toBeGreaterThanOrEqual(asked - hourStart);
    expect(summary.speed.lagMs).toBeLessThanOrEqual(answered - hourStart);
  });

  it('reads the manifest once, batch days once, and speed days per call: not more with more groups', async () => {
    let requests = 0;
    runtime.emulators.dynamo.middlewareStack.add(
      (next) => async (args) => {
        requests++;
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const measure = async () => {
      requests = 0;
      expect((await call('GET', seriesPath(from, to))).status).toBe(200);
      return requests;
    };
    const speedDays = new Set([watermark, to - 1].map((time) => Math.floor(time / DAY))).size;
    // Batch days were read (and cached) by the calls above: one manifest read and the speed days remain.
    expect(await measure()).toBe(1 + speedDays);
    const manyCountries = Array.from({ length: 300 }, (_, index) => ({
      type: 'order',
      id: `many-${index}`,
      ts: now,
      country: `C${index}`,
      amount: 1,
      status: 'paid',
    }));
    await postAll(manyCountries);
    await waitFor(async () => {
      const series = await call('GET', seriesPath(from, to));
      return series.body.buckets.at(-1).groups.length >= 300;
    });
    expect(await measure()).toBe(1 + speedDays);
    runtime.emulators.dynamo.middlewareStack.remove('countRequests');
  });

  it('lists records put straight on the stream that the speed layer quarantined, with the reason', async () => {
    await runtime.emulators.kinesis.send(
      new PutRecordCommand({
        StreamName: runtime.streamName,
        PartitionKey: 'raw',
        Data: Buffer.from(
          JSON.stringify({ type: 'order', id: 'raw-1', ts: now, amount: -1, status: 'paid' }),
        ),
      }),
    );
    const quarantined = await waitFor(async () => {
      const answer = await call('GET', '/quarantine?limit=10');
      return answer.body.total > 0 ? answer.body : undefined;
    });
    expect(quarantined.records[0].reason).toContain('amount');
    expect(JSON.parse(Buffer.from(quarantined.records[0].data, 'base64').toString()).id).toBe('raw-1');
    expect(quarantined.records[0].dataTruncated).toBe(false);
  });

  it('lists large quarantined records by their first KB, so many of them stay within the 6 MB answer', async () => {
    // Prepare: eight records of 900 KB put straight on the stream, invalid (no id)
    const big = (index: number) =>
      Buffer.from(
        JSON.stringify({ ts: now, amount: 1, status: 'paid', note: `${index}${'x'.repeat(900_000)}` }),
      );
    for (let index = 0; index < 8; index++)
      await runtime.emulators.kinesis.send(
        new PutRecordCommand({
          StreamName: runtime.streamName,
          PartitionKey: `big-${index}`,
          Data: big(index),
        }),
      );
    // Act
    const answer = await waitFor(async () => {
      const listed = await call('GET', '/quarantine?limit=500');
      return listed.status !== 200 ||
        listed.body.records.filter((record: { dataTruncated: boolean }) => record.dataTruncated).length >= 8
        ? listed
        : undefined;
    });
    // Assess
    expect(answer?.status).toBe(200);
    const truncated = answer?.body.records.filter(
      (record: { dataTruncated: boolean }) => record.dataTruncated,
    );
    expect(truncated.every((record: { dataBytes: number }) => record.dataBytes > 900_000)).toBe(true);
    expect(truncated.every((record: { data: string }) => record.data.length <= 8_192)).toBe(true);
  }, 60_000);

  it('serves the latest drift reports, newest first', async () => {
    const batchStore = new DynamoBatchStore(runtime.emulators.dynamo, runtime.tableName, catalogs);
    for (const id of ['run-a', 'run-b'])
      await batchStore.putDriftReport('revenue', id, {
        runId: id,
        view: 'revenue',
        driftRatio: 0,
      });
    const drift = await call('GET', '/drift?limit=1');
    const reports = drift.body.views.find((view: { view: string }) => view.view === 'revenue').reports;
    expect(reports).toEqual([{ runId: 'run-b', view: 'revenue', driftRatio: 0 }]);
  });

  /** The reports `GET /data-quality` answered for one catalog. */
  const reportsOf = (
    answer: { body: { catalogs: { catalog: string; reports: unknown[] }[] } },
    catalog: string,
  ) => answer.body.catalogs.find((entry) => entry.catalog === catalog)?.reports;

  it("lists the batch run's data-quality report of every catalog: no id counted twice when copies share their day", async () => {
    // Act
    const answer = await call('GET', '/data-quality');
    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body.catalogs.map((entry: { catalog: string }) => entry.catalog)).toEqual([
      'order',
      'page_view',
    ]);
    for (const catalog of ['order', 'page_view'])
      expect(
        reportsOf(answer, catalog)?.find((report) => (report as { runId: string }).runId === runId),
      ).toMatchObject({
        catalog,
        horizonDays: 1,
        ids: 0,
        listed: [],
        error: null,
      });
  });

  it("summarizes the run's distant copies per catalog in GET /batch-runs/{id}", async () => {
    // Act
    const run = await call('GET', `/batch-runs/${runId}`);
    // Assess
    expect(run.body.distantCopies).toEqual([
      { catalog: 'order', horizonDays: 1, ids: 0, listed: [], error: null },
      { catalog: 'page_view', horizonDays: 1, ids: 0, listed: [], error: null },
    ]);
  });

  it('serves the latest data-quality reports, newest first, each id with its days', async () => {
    // Prepare: reports of runs started after every other run of this file
    const batchStore = new DynamoBatchStore(runtime.emulators.dynamo, runtime.tableName, catalogs);
    for (const id of ['run-zz-1', 'run-zz-2'])
      await batchStore.putDataQualityReport(
        {
          runId: id,
          catalog: 'order',
          startedAt: now,
          recordedAt: now,
          horizonDays: 1,
          dayRanges: [['2026-11-20', '2026-11-25']],
          ids: 1,
          listed: [{ id: `resent-${id}`, days: ['2026-11-20', '2026-11-25'], dayCount: 2 }],
          error: null,
        },
        now,
      );
    // Act
    const answer = await call('GET', '/data-quality?limit=1');
    // Assess
    expect(reportsOf(answer, 'order')).toEqual([
      expect.objectContaining({
        runId: 'run-zz-2',
        listed: [{ id: 'resent-run-zz-2', days: ['2026-11-20', '2026-11-25'], dayCount: 2 }],
      }),
    ]);
    expect(reportsOf(answer, 'page_view')).toEqual([expect.objectContaining({ runId })]);
  });

  it('serves one catalog’s reports when type names it, up to the whole answer’s 20', async () => {
    // Act
    const answer = await call('GET', '/data-quality?type=page_view&limit=20');
    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body.catalogs).toEqual([
      {
        catalog: 'page_view',
        horizonDays: 1,
        reports: [expect.objectContaining({ runId, catalog: 'page_view' })],
      },
    ]);
  });

  it('refuses a type that names no catalog with a 400 naming type and the known ones', async () => {
    // Act
    const answer = await call('GET', '/data-quality?type=click');
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.details?.parameter).toBe('type');
    expect(answer.body.message).toMatch(/click.*order, page_view/);
  });

  it('refuses more reports per catalog than 20 over every catalog, saying to name one with type', async () => {
    // Act
    const answer = await call('GET', '/data-quality?limit=11');
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.details?.parameter).toBe('limit');
    expect(answer.body.message).toMatch(/at most 10 per catalog over the 2 catalogs, or name one with type/);
  });

  it.each(['csv', 'parquet'] as const)('exports the exact rows below the watermark as %s', async (format) => {
    const exportFrom = from;
    const started = await call('POST', '/exports', {
      view: 'revenue',
      from: new Date(exportFrom).toISOString(),
      to: watermark,
      format,
    });
    expect(started.status).toBe(202);
    let job: { status: string; rows: number; downloads: string[] } | undefined;
    await waitFor(async () => {
      job = (await call('GET', `/exports/${started.body.id}`)).body;
      return job?.status !== 'RUNNING';
    });
    expect(job?.status).toBe('SUCCEEDED');
    const exact = expectedSeries(revenue, deduplicateEvents(revenue, orders), exportFrom, watermark);
    expect(job?.rows).toBe(exact.size);
    expect(job?.downloads).toHaveLength(1);
    const download = await fetch(job?.downloads[0] as string);
    expect(download.status).toBe(200);
    if (format === 'csv') {
      const [header, ...lines] = (await download.text()).trim().split('\n');
      expect(header).toBe('bucket,country,revenue,orders');
      const fromCsv = new Map(
        lines.map((line) => {
          const [bucket, country, revenueValue, ordersValue] = line.split(',');
          return [
            seriesKey(Number(bucket), { country }),
            { revenue: Number(revenueValue), orders: Number(ordersValue) },
          ];
        }),
      );
      expect(fromCsv).toEqual(exact);
    } else {
      expect(
        Buffer.from(await download.arrayBuffer())
          .subarray(0, 4)
          .toString(),
      ).toBe('PAR1');
    }
  });

  it('refuses a series whose answer would pass 6 MB with a 400 saying how to narrow it, where Lambda would 502', async () => {
    // Prepare: 150 past days of 20 countries per hour, loaded as a batch run loads them. Their JSON
    // is under 6 MiB; escaped into the proxy result, it is over.
    const batchStore = new DynamoBatchStore(runtime.emulators.dynamo, runtime.tableName, catalogs);
    const start = Date.UTC(2025, 0, 1);
    const days = 150;
    const countries = Array.from({ length: 20 }, (_, index) => `country-${index}`.padEnd(16, '-'));
    const active: Record<string, string> = {};
    for (let day = 0; day < days; day++) {
      const dayStart = start + day * DAY;
      const rows: ViewRow[] = [];
      for (let hour = 0; hour < 24; hour++)
        for (const country of countries)
          rows.push({
            bucket: dayStart + hour * HOUR,
            group: [country],
            values: { revenue: 1234n, orders: 1n },
          });
      await batchStore.writeDay(revenue, 'oversize', dayOf(dayStart), rows, Date.now());
      active[dayOf(dayStart)] = 'oversize';
    }
    const manifest = await batchStore.getManifest('revenue');
    if (manifest === null) throw new Error('the batch run above committed no manifest');
    await batchStore.commitManifest(
      { ...manifest, revision: manifest.revision + 1, days: { ...manifest.days, ...active } },
      manifest.revision,
    );
    const url = `${runtime.apiUrl}${seriesPath(start, start + days * DAY)}`;
    const ask = (encoding: string) =>
      fetch(url, { headers: { 'x-api-key': runtime.apiKey, 'Accept-Encoding': encoding } });
    // Act
    const [plain, zipped] = await Promise.all([ask('identity'), ask('gzip')]);
    // Assess: the same refusal whatever the encoding, naming every way to ask for less
    for (const answer of [plain, zipped]) {
      expect(answer.status).toBe(400);
      const body = (await answer.json()) as {
        message: string;
        details: { parameter: string; answerBytes: number; maxAnswerBytes: number };
      };
      expect(body.details).toMatchObject({ parameter: 'to', maxAnswerBytes: MAX_ANSWER_BYTES });
      expect(body.details.answerBytes).toBeGreaterThan(MAX_ANSWER_BYTES);
      expect(body.message).toMatch(/from\.\.to.*step \(day\).*country=.*\/views\/revenue\/top/);
    }
    const narrowed = await call('GET', seriesPath(start, start + days * DAY, '&step=day'));
    expect(narrowed.status).toBe(200);
  });

  it('refuses an export past the watermark, naming to', async () => {
    const answer = await call('POST', '/exports', {
      view: 'revenue',
      from,
      to: watermark + BUCKET_WIDTH_MS.hour,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.details.parameter).toBe('to');
  });
});

describe('bad input gets a 4xx naming the parameter', () => {
  const from = now - DAY;
  it.each([
    ['GET', '/views/nope/series?from=0&to=1', undefined, 404, 'name'],
    ['GET', '/views/revenue/series?from=yesterday&to=1', undefined, 400, 'from'],
    ['GET', `/views/revenue/series?from=${from}`, undefined, 400, 'to'],
    ['GET', `/views/revenue/series?from=${from}&to=${from - HOUR}`, undefined, 400, 'to'],
    ['GET', `/views/revenue/series?from=${from}&to=${now}&step=minute`, undefined, 400, 'step'],
    ['GET', `/views/revenue/series?from=${from}&to=${now}&step=week`, undefined, 400, 'step'],
    ['GET', `/views/orders_per_minute/series?from=0&to=${400 * DAY}&step=minute`, undefined, 400, 'step'],
    ['GET', `/views/revenue/series?from=0&to=${now}&step=day`, undefined, 400, 'to'],
    ['GET', `/views/revenue/series?from=${from}&to=${now}&colour=red`, undefined, 400, 'colour'],
    ['GET', `/views/revenue/series?from=${from}&to=${now}&exact=maybe`, undefined, 400, 'exact'],
    ['GET', `/views/revenue/top?from=${from}&to=${now}&measure=profit`, undefined, 400, 'measure'],
    ['GET', `/views/revenue/top?from=${from}&to=${now}&measure=revenue&limit=0`, undefined, 400, 'limit'],
    ['POST', '/events', '{"id": ', 400, 'body'],
    ['POST', '/events', [], 400, 'body'],
    ['POST', '/events', Array.from({ length: 501 }, () => ({})), 400, 'body'],
    ['POST', '/events', 'x'.repeat(1024 * 1024 + 1), 413, 'body'],
    ['POST', '/batch-runs', { backfill: ['nope'] }, 400, 'backfill'],
    ['POST', '/batch-runs', { runNow: true }, 400, 'runNow'],
    ['POST', '/exports', { view: 'revenue', from: 0, to: HOUR, format: 'xlsx' }, 400, 'format'],
    ['POST', '/exports', { from: 0, to: HOUR }, 400, 'view'],
    ['GET', '/exports/0b7c7a5e-1b7b-4c1b-9d5e-000000000000', undefined, 404, 'id'],
    ['GET', '/batch-runs/run-none', undefined, 404, 'id'],
    ['GET', `/views/%ZZ/series?from=${from}&to=${now}`, undefined, 400, 'name'],
    ['GET', `/views/%E0%A4%A/top?from=${from}&to=${now}&measure=revenue`, undefined, 400, 'name'],
    ['GET', '/batch-runs/%ZZ', undefined, 400, 'id'],
    ['GET', '/exports/%E0%A4%A', undefined, 400, 'id'],
    ['GET', `/views/revenue/series?from=${from}&to=${now}&country=%E0%A4%A`, undefined, 400, 'country'],
    [
      'GET',
      `/views/revenue/top?from=${from}&to=${now}&measure=revenue&country=%C3`,
      undefined,
      400,
      'country',
    ],
    [
      'GET',
      `/views/revenue/series?from=${from}&to=${now}&country=${'C'.repeat(17)}`,
      undefined,
      400,
      'country',
    ],
    ['GET', '/quarantine?limit=%ED%A0%80', undefined, 400, 'limit'],
    ['GET', '/data-quality?limit=0', undefined, 400, 'limit'],
    ['GET', '/data-quality?limit=21', undefined, 400, 'limit'],
    ['GET', '/data-quality?type=order&limit=21', undefined, 400, 'limit'],
    ['GET', '/data-quality?type=Order', undefined, 400, 'type'],
  ] as const)('%s %s', async (method, path, body, status, parameter) => {
    const answer = await call(method, path, body);
    expect(answer.status).toBe(status);
    expect(answer.body.details?.parameter).toBe(parameter);
  });

  const order = { type: 'order', id: 'bounded-1', ts: now, country: 'US', amount: 100, status: 'paid' };
  it.each([
    ['ts', { ...order, ts: Date.UTC(2100, 0, 1) }],
    ['ts', { ...order, ts: 9e15 }],
    ['ts', { ...order, ts: Date.UTC(1999, 11, 31) }],
    ['id', { ...order, id: 'i'.repeat(65) }],
    ['country', { ...order, country: 'C'.repeat(17) }],
    ['country', { ...order, country: 'U\ud800S' }],
  ])('refuses an event whose %s is outside the catalog bounds with a 400 naming it', async (field, event) => {
    // Act
    const answer = await call('POST', '/events', [event]);
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].fields.map((error: { field: string }) => error.field)).toEqual([field]);
  });

  it('answers an unknown route with the router’s JSON 404, not API Gateway’s 403', async () => {
    const answer = await call('GET', '/nothing/here');
    expect(answer.status).toBe(404);
    expect(answer.body.statusCode).toBe(404);
  });

  it('refuses a call without the API key with a JSON 403 a browser can read', async () => {
    const response = await fetch(`${runtime.apiUrl}/views`);
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await response.json()).toMatchObject({ statusCode: 403, error: 'Forbidden' });
  });
});
