import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogs, orderEvents, pageViewEvents } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import { readSkippedLines, skippedLinesSql } from '../../functions/batch/skipped-lines';
import { archiveDayPrefix } from '../../functions/commons/layout';
import { views } from '../../views';
import { arbOrderEvents, arbView } from '../support/arbitraries';
import { tempDir, writeArchive } from '../support/archive';
import { jsAnswer } from '../support/differential';
import { sentOrders } from '../support/events';

let engine: DuckDbQueryEngine;
beforeAll(async () => {
  engine = await DuckDbQueryEngine.open(catalogs);
});
afterAll(() => engine.close());

describe('DuckDB over a local archive folder', () => {
  it('reads gzip JSON lines and Parquet under events/order/dt=... as events_order, matching the JS reducer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(arbView, fc.constantFrom(...views)),
        arbOrderEvents(),
        async (view, events) => {
          // Prepare
          const dir = await tempDir('archive');
          try {
            await writeArchive(orderEvents, dir, events);
            await engine.useArchive(dir);
            // Act
            const rows = await engine.runView(view);
            // Assess
            expect(rows).toEqual(expect.arrayContaining(jsAnswer(view, events)));
            expect(rows).toHaveLength(jsAnswer(view, events).length);
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  it('answers an empty archive with no rows', async () => {
    const dir = await tempDir('empty');
    await engine.useArchive(dir);
    for (const view of views) expect(await engine.runView(view)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('sees files delivered after the archive was opened', async () => {
    // Prepare
    const dir = await tempDir('late');
    await engine.useArchive(dir);
    const [revenue] = views;
    if (revenue === undefined) throw new Error('no views');
    const event = { id: 'late-1', ts: Date.UTC(2026, 10, 25, 9), country: 'US', amount: 700, status: 'paid' };
    // Act
    await writeArchive(orderEvents, dir, [event]);
    // Assess
    expect(await engine.runView(revenue)).toEqual([
      { bucket: event.ts, group: ['US'], values: { revenue: 700n, orders: 1n } },
    ]);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('archive files written before a field existed', () => {
  it('read the missing field as NULL in Parquet as in JSON', async () => {
    // Prepare: a Parquet file without the optional discount column
    const dir = await tempDir('old-schema');
    const folder = join(dir, archiveDayPrefix(orderEvents.name, '2026-11-25'));
    await mkdir(folder, { recursive: true });
    const ts = Date.UTC(2026, 10, 25, 8);
    const writer = await DuckDbQueryEngine.open(catalogs);
    try {
      await writer.query(
        `COPY (SELECT 'old-1' AS id, CAST(${ts} AS BIGINT) AS ts, NULL AS customer, 'US' AS country, NULL AS product, ` +
          `CAST(500 AS BIGINT) AS amount, 'paid' AS status) TO '${join(folder, 'old.parquet')}' (FORMAT parquet)`,
      );
    } finally {
      writer.close();
    }
    await engine.useArchive(dir);
    // Act
    const [revenue] = views;
    if (revenue === undefined) throw new Error('no views');
    const rows = await engine.runView(revenue);
    // Assess
    expect(rows).toEqual([{ bucket: ts, group: ['US'], values: { revenue: 500n, orders: 1n } }]);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('archive lines DuckDB cannot parse', () => {
  const ts = Date.UTC(2026, 10, 25, 9);
  const good = [
    { id: 'good-1', ts, country: 'US', amount: 700, status: 'paid' },
    { id: 'good-2', ts: ts + 60_000, country: 'FR', amount: 300, status: 'paid' },
  ];
  const key = `${archiveDayPrefix(orderEvents.name, '2026-11-25')}driftless-1-bad-lines.gz`;

  /** One object: a good event, malformed JSON, a lone surrogate escape, garbage, another good event. */
  async function archiveWithBadLines(): Promise<string> {
    const dir = await tempDir('bad-lines');
    await mkdir(join(dir, archiveDayPrefix(orderEvents.name, '2026-11-25')), { recursive: true });
    const lines = [
      JSON.stringify(good[0]),
      '{"id":"cut-short","ts":',
      `{"id":"x\\ud800y","ts":${ts},"country":"US","amount":5,"status":"paid"}`,
      'not json at all',
      JSON.stringify(good[1]),
    ];
    await writeFile(join(dir, key), gzipSync(`${lines.join('\n')}\n`));
    return dir;
  }

  it('skips them and counts every good event', async () => {
    // Prepare
    const dir = await archiveWithBadLines();
    await engine.useArchive(dir);
    const [revenue] = views;
    if (revenue === undefined) throw new Error('no views');
    // Act
    const rows = await engine.runView(revenue);
    // Assess
    expect(rows).toEqual(jsAnswer(revenue, sentOrders(good)));
    await rm(dir, { recursive: true, force: true });
  });

  it("counts them by object with the batch layer's skipped-lines query", async () => {
    // Prepare
    const dir = await archiveWithBadLines();
    await engine.useArchive(dir);
    // Act
    const queryId = await engine.start(
      skippedLinesSql([
        { catalog: orderEvents, dayRanges: [['2026-11-25', '2026-11-25']] },
        { catalog: pageViewEvents, dayRanges: [['2026-11-25', '2026-11-25']] },
      ]),
    );
    const skipped = await readSkippedLines(engine, queryId);
    // Assess
    expect(skipped).toEqual({ lines: 3, objects: 1, byObject: [{ object: key, lines: 3 }], error: null });
    await rm(dir, { recursive: true, force: true });
  });
});
