import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../../cost/model';
import { catalogs } from '../../events';
import {
  type DataQualityReport,
  DynamoBatchStore,
  type ListedDistantCopies,
} from '../../functions/adapters/dynamo-batch-store';
import { views } from '../../views';
import { tempDir } from '../support/archive';
import { type CliRun, REPOSITORY, driftless as runDriftless } from '../support/cli';
import { startTestRuntime, type TestRuntime } from '../support/runtime';
import { waitFor } from '../support/wait';

const HOUR = 3_600_000;

let testRuntime: TestRuntime;
let dir: string;

// The runtime synthesizes the stack first: seconds, more on a busy machine.
beforeAll(async () => {
  testRuntime = await startTestRuntime('cli');
  dir = await tempDir('cli');
}, 60_000);

afterAll(async () => {
  await testRuntime?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** The CLI against the test runtime (or `api`), with its key unless `apiKey` says otherwise. */
const driftless = (
  args: readonly string[],
  options: { api?: string; apiKey?: string } = {},
): Promise<CliRun> =>
  runDriftless(args, {
    api: options.api ?? testRuntime.runtime.apiUrl,
    apiKey: options.apiKey ?? testRuntime.runtime.apiKey,
  });

const linesOf = (text: string) => text.split('\n').filter((line) => line !== '');

/** The user error every failing command must end with: exit 1, one line, no stack trace. */
function expectOneLineError(run: CliRun, message: RegExp) {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  const lines = linesOf(run.stderr);
  expect(lines.filter((line) => line.startsWith('driftless: '))).toHaveLength(1);
  expect(lines.at(-1)).toMatch(message);
}

const order = (id: string, country: string, amount = 1_000) => ({
  type: 'order',
  id,
  ts: Date.now(),
  country,
  amount,
  status: 'paid',
});

/** Orders counted by the speed layer for one country over the last hours, as the API serves them. */
async function ordersServed(country: string): Promise<number> {
  const now = Date.now();
  const answer = await testRuntime.call(
    'GET',
    `/views/revenue/series?from=${now - 2 * HOUR}&to=${now + HOUR}&country=${country}`,
  );
  return (answer.body.buckets as { groups: { values: { orders: number } }[] }[])
    .flatMap((bucket) => bucket.groups)
    .reduce((total, group) => total + Number(group.values.orders), 0);
}

describe('driftless send', () => {
  it('sends every line it can, names each refused line with its reason, goes on, and exits 1', async () => {
    // Prepare: lines 3 (not JSON) and 4 (a negative amount) are refused, line 5 is blank
    const file = join(dir, 'mixed.ndjson');
    const lines = [
      JSON.stringify(order('cli-1', 'CL')),
      JSON.stringify(order('cli-2', 'CL')),
      '{"id": "tru',
      JSON.stringify(order('cli-4', 'CL', -1)),
      '',
      JSON.stringify(order('cli-6', 'CL')),
    ];
    await writeFile(file, `${lines.join('\n')}\n`);
    // Act
    const run = await driftless(['send', file]);
    // Assess
    expect(run.code, run.stderr).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({ lines: 6, sent: 4, accepted: 3, rejected: 1, notJson: 1 });
    expect(linesOf(run.stderr).filter((line) => line.startsWith('line '))).toEqual([
      'line 3: not JSON: {"id": "tru',
      'line 4: fails the order schema: amount',
    ]);
    expect(await waitFor(async () => (await ordersServed('CL')) === 3, { what: 'the 3 orders sent' })).toBe(
      true,
    );
  });

  it('says which lines were sent when the API fails half-way, and how to send the rest', async () => {
    // Prepare: 700 valid lines; an API that takes the first post of 500 and fails the next
    const file = join(dir, 'half.ndjson');
    const events = Array.from({ length: 700 }, (_, index) => JSON.stringify(order(`half-${index}`, 'HF')));
    await writeFile(file, `${events.join('\n')}\n`);
    let posts = 0;
    const failing = await listen(
      createServer(async (request, response) => {
        const chunks: Buffer[] = [];
        for await (const chunk of request) chunks.push(chunk as Buffer);
        if (posts++ > 0) {
          response.writeHead(500, { 'Content-Type': 'application/json' });
          response.end(JSON.stringify({ message: 'injected failure' }));
          return;
        }
        const forwarded = await fetch(new URL(request.url ?? '/', testRuntime.runtime.apiUrl), {
          method: request.method ?? 'POST',
          headers: {
            'Content-Type': 'application/json',
            'x-api-key': String(request.headers['x-api-key'] ?? ''),
          },
          body: Buffer.concat(chunks),
        });
        response.writeHead(forwarded.status, { 'Content-Type': 'application/json' });
        response.end(await forwarded.text());
      }),
    );
    try {
      // Act
      const run = await driftless(['send', file], { api: failing.url });
      // Assess
      expectOneLineError(
        run,
        new RegExp(
          `^driftless: POST /events answered 500: injected failure; lines 1 to 500 were sent \\(500 accepted\\); ` +
            `lines from 501 on were not: resend them with tail -n \\+501 ${file} \\| driftless send$`,
        ),
      );
      expect(posts).toBe(2);
    } finally {
      await failing.close();
    }
  });
});

describe('driftless query', () => {
  it('keeps to the groups -g names (repeatable), and its help prints no default for it', async () => {
    // Prepare: orders of two countries, counted by the speed layer
    const sent = await testRuntime.call('POST', '/events', [
      order('cli-q1', 'QG'),
      order('cli-q2', 'QG'),
      order('cli-q3', 'QH'),
    ]);
    expect(sent.status).toBe(202);
    await waitFor(async () => (await ordersServed('QG')) === 2 && (await ordersServed('QH')) === 1, {
      what: 'the 3 orders sent',
    });
    // Act
    const run = await driftless(['query', 'revenue', '--from', '-2h', '-g', 'country=QG', '--json']);
    const help = await driftless(['query', '--help']);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    const groups = (JSON.parse(run.stdout).buckets as { groups: { key: { country: string } }[] }[]).flatMap(
      (bucket) => bucket.groups,
    );
    expect(groups.length).toBeGreaterThan(0);
    expect(groups.every((group) => group.key.country === 'QG')).toBe(true);
    expect(help.stdout).toMatch(/-g, --group <field=value> +only this group \(repeatable\)\n/);
  });
});

describe('driftless data-quality', () => {
  /** A run's report as the batch layer records it: per catalog, the ids its days counted again. */
  const report = (
    catalog: string,
    horizonDays: number,
    listed: ListedDistantCopies[],
  ): DataQualityReport => ({
    runId: 'run-20261130T000000000Z-c11c11',
    catalog,
    startedAt: Date.UTC(2026, 10, 30),
    recordedAt: Date.UTC(2026, 10, 30),
    horizonDays,
    dayRanges: [['2026-11-20', '2026-11-29']],
    ids: listed.length,
    listed,
    error: null,
  });

  beforeAll(async () => {
    const { emulators, tableName } = testRuntime.runtime;
    const store = new DynamoBatchStore(emulators.dynamo, tableName, catalogs);
    const days = Array.from({ length: 31 }, (_, index) =>
      new Date(Date.UTC(2026, 9, 1 + index)).toISOString().slice(0, 10),
    );
    await store.putDataQualityReport(
      report('order', 1, [{ id: 'o-resent', days, dayCount: 33 }]),
      Date.now(),
    );
    await store.putDataQualityReport(
      report('page_view', 3, [{ id: 'pv-resent', days: ['2026-11-20', '2026-11-25'], dayCount: 2 }]),
      Date.now(),
    );
  });

  it('prints every catalog’s reports, each id with its days and its catalog’s horizon', async () => {
    // Act
    const run = await driftless(['data-quality']);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    const [header, , ...rows] = linesOf(run.stdout);
    expect(header?.split(/ +/)).toEqual(['catalog', 'run', 'horizonDays', 'ids', 'id', 'days']);
    expect(rows.map((row) => row.split(/ +/).slice(0, 5))).toEqual([
      ['order', 'run-20261130T000000000Z-c11c11', '1', '1', 'o-resent'],
      ['page_view', 'run-20261130T000000000Z-c11c11', '3', '1', 'pv-resent'],
    ]);
    // An id on more days than a report lists says how many more.
    expect(rows[0]).toMatch(/ 2026-10-01 2026-10-02 .* 2026-10-31 \(\+2\)$/);
    expect(rows[1]).toMatch(/ 2026-11-20 2026-11-25$/);
  });

  it('prints one catalog’s reports with --type, and names --type for a catalog the API does not know', async () => {
    // Act
    const run = await driftless(['data-quality', '--type', 'page_view', '--limit', '20']);
    const unknown = await driftless(['data-quality', '--type', 'click']);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(linesOf(run.stdout).slice(2)).toEqual([
      expect.stringMatching(/^page_view +run-\S+ +3 +1 +pv-resent /),
    ]);
    expectOneLineError(
      unknown,
      /^driftless: GET \/data-quality answered 400: type: unknown event type "click": one of order, page_view; fix --type$/,
    );
  });
});

describe('driftless cost', () => {
  it('prints the monthly bill per service, ours beside the naive way, with its assumptions, as JSON', async () => {
    // Act: it synthesizes the stack and measures the speed processor: seconds
    const run = await driftless(['cost', '--events-per-sec', '100', '--json']);
    // Assess
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      eventsPerSec: 100,
      eventBytes: 200,
      views: views.length,
      region: 'us-east-1',
    });
    for (const service of SERVICES) {
      expect(report[service], service).toBeGreaterThanOrEqual(0);
      expect(report.naive[service], service).toBeGreaterThanOrEqual(report[service]);
    }
    expect(report.monthlyUsd).toBeGreaterThan(0);
    expect(report.naiveMonthlyUsd).toBeGreaterThan(report.monthlyUsd);
    expect(report.freshnessP99Ms).toBeGreaterThan(1_000);
    expect(report.freshnessSource).toMatch(/^estimate/);
    expect(report.assumptions.length).toBeGreaterThan(10);
  }, 120_000);
});

describe('a user error of the driftless CLI: one line on stderr saying what to do, no stack, exit 1', () => {
  it.each([
    [
      'a file to send that does not exist',
      ['send', join(REPOSITORY, 'no-such-folder', 'missing.ndjson')],
      /^driftless: .*missing\.ndjson: no such file: pass an NDJSON file, or - to read stdin$/,
    ],
    [
      'a folder to send',
      ['send', REPOSITORY],
      /^driftless: .* is a folder: pass an NDJSON file, or - to read stdin; nothing was sent$/,
    ],
    [
      'a --from that is not a time',
      ['query', 'revenue', '--from', 'yesterday'],
      /^driftless: option '--from <time>' argument 'yesterday' is invalid: expected now, -2h \(two hours ago\), epoch ms or ISO 8601, e\.g\. -1d; see `driftless query --help`$/,
    ],
    [
      'a bad option value',
      ['generate', '-n', 'abc'],
      /^driftless: option '-n, --count <n>' argument 'abc' is invalid: expected a whole number; see `driftless generate --help`$/,
    ],
    [
      'a value not among the choices',
      ['query', 'revenue', '--step', 'week'],
      /^driftless: option '--step <step>' argument 'week' is invalid: expected one of minute, hour, day; see `driftless query --help`$/,
    ],
    [
      'an unknown option of a subcommand',
      ['batch', 'run', '--now'],
      /^driftless: unknown option '--now'; see `driftless batch run --help`$/,
    ],
    [
      'a missing argument',
      ['query'],
      /^driftless: missing required argument 'view'; see `driftless query --help`$/,
    ],
    [
      'a region the cost model has no prices for',
      ['cost', '--region', 'eu-west-1'],
      /^driftless: option '--region <region>' argument 'eu-west-1' is invalid: expected us-east-1: the only region priced \(cost\/prices\.ts\); see `driftless cost --help`$/,
    ],
  ] as const)('names %s', async (_what, args, message) => {
    // Act
    const run = await driftless(args);
    // Assess
    expectOneLineError(run, message);
  });

  it('says that the port to start on is in use, and how to pick another', async () => {
    // Act: the test runtime's port
    const run = await driftless(['start', '--port', new URL(testRuntime.runtime.apiUrl).port]);
    // Assess
    expectOneLineError(run, /^driftless: port \d+ is in use: pass --port <port> \(0 picks a free one\)$/);
  });

  it('says that the data folder cannot be made, and how to pass another', async () => {
    // Prepare: a file where a folder of the data folder's path should be
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    // Act
    const run = await driftless(['--data-dir', join(file, 'data'), 'start', '--port', '0']);
    // Assess
    expectOneLineError(
      run,
      /^driftless: cannot keep data in .*a-file\/data \(ENOTDIR: .*\): pass --data-dir <dir>, a folder you can write$/,
    );
  });

  it('names the view the API does not know, and the views it does', async () => {
    // Act
    const run = await driftless(['query', 'no_such_view']);
    // Assess
    expectOneLineError(
      run,
      /^driftless: GET \/views\/no_such_view\/series answered 404: no view named "no_such_view"; views: .*revenue/,
    );
  });

  it('names the option to fix when the API refuses the parameter it gave', async () => {
    // Act: the API takes at most 100 drift reports per view
    const run = await driftless(['drift', '--limit', '500']);
    // Assess
    expectOneLineError(run, /^driftless: GET \/drift answered 400: limit: .*; fix --limit$/);
  });

  it('says that the API key was refused, and how to pass one', async () => {
    // Act
    const run = await driftless(['status'], { apiKey: 'not-the-key' });
    // Assess
    expectOneLineError(
      run,
      /^driftless: GET \/views answered 403: .*the API key was refused: pass --api-key <key>/,
    );
  });

  it('says that no API answers, and how to start or point at one', async () => {
    // Prepare: a port nothing listens on
    const closed = await listen(createServer());
    await closed.close();
    // Act
    const run = await driftless(['status'], { api: closed.url });
    // Assess
    expectOneLineError(
      run,
      /^driftless: no API answers at .*; start one with `npm start`, or pass --api <url>/,
    );
  });

  it.each([
    [
      'JSON not of the schema',
      '{"views": "nonsense"}',
      /^driftless: GET \/views answered what this CLI does not understand \(views: .*expected array.*\): is http:.* a driftless API of this version\? pass --api <url>$/,
    ],
    [
      'text that is not JSON',
      '<html>\n<p>a web server</p>\n</html>',
      /^driftless: GET \/views answered 200 with what is not JSON \(<html> <p>a web server<\/p> <\/html>\): is http:.* a driftless API\? pass --api <url>$/,
    ],
  ] as const)('refuses an answer of %s', async (_what, body, message) => {
    // Prepare: a server that answers every request with `body`
    const other = await listen(createServer((_request, response) => response.end(body)));
    try {
      // Act
      const run = await driftless(['status'], { api: other.url });
      // Assess
      expectOneLineError(run, message);
    } finally {
      await other.close();
    }
  });
});

/** Starts `server` on a free loopback port. */
async function listen(server: Server): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
