import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import serverlessChromium from '@sparticuz/chromium';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderEvent } from '../../events';
import { generateOrders, generatePageViews, take } from '../../local/demo';
import { type Runtime, startRuntime } from '../../local/runtime';
import { tempDir } from '../support/archive';
import { quietLogger } from '../support/fixture';
import { waitFor } from '../support/wait';

/** Debian's chromium, where installed (`apt-get install -y chromium`). */
const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/**
 * The system's chromium, else the one the npm package @sparticuz/chromium ships (unpacked into /tmp on
 * first use), so the test needs no apt. Its flags are for serverless hosts; the one turning off the
 * same-origin policy is dropped, since the test proves CORS.
 */
async function browserLaunch(): Promise<{ executablePath: string; args: string[] }> {
  if (existsSync(SYSTEM_CHROMIUM))
    return {
      executablePath: SYSTEM_CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    };
  return {
    executablePath: await serverlessChromium.executablePath(),
    args: serverlessChromium.args.filter((arg) => arg !== '--disable-web-security'),
  };
}
/**
 * Where the screenshot goes: test-results/ (kept by CI, ignored by git), so a test run leaves the tree clean.
 * `DRIFTLESS_SCREENSHOT=docs/dashboard.png npm test -- test/browser` refreshes the README's picture.
 */
const SCREENSHOT = process.env.DRIFTLESS_SCREENSHOT ?? 'test-results/dashboard.png';
const HOUR = 3_600_000;

const now = Date.now();
/**
 * Two days of orders, denser in the last 90 minutes so the per-minute chart has data too. (Few old ones: each
 * lands in a minute of its own, one speed-layer write each.)
 */
const orders = [
  ...take(
    generateOrders({ seed: 11, idPrefix: 'b-days', time: (index) => now - 46 * HOUR + index * 120_000 }),
    1_380,
  ),
  ...take(
    generateOrders({ seed: 12, idPrefix: 'b-recent', time: (index) => now - 85 * 60_000 + index * 2_500 }),
    2_000,
  ),
].map((record) => record.event as OrderEvent);

/** Page views over the same two days, so the page-view panel has batch and speed buckets too. */
const pageViews = take(
  generatePageViews({ seed: 13, idPrefix: 'b-views', time: (index) => now - 46 * HOUR + index * 60_000 }),
  2_700,
).map((record) => record.event);

/** The revenue view's measure over the given orders: paid amounts net of discount. */
const revenueOf = (events: readonly OrderEvent[]) =>
  events
    .filter((event) => event.status === 'paid')
    .reduce((sum, event) => sum + event.amount - (event.discount ?? 0), 0);

/** The few DOM shapes the page callbacks use (the project's type-check has no DOM library). */
type PanelElement = { dataset: Record<string, string> };
type Canvas = {
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
};

let runtime: Runtime;
let dir: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
/** The requests the API server answered, in order, with the status each was answered. */
const apiExchanges: { method: string; path: string; headers: IncomingHttpHeaders; status: number }[] = [];

const revenuePanel = 'section[data-view="revenue"]';
const panelData = (selector: string) =>
  page.$eval(selector, (element) => ({ ...(element as unknown as PanelElement).dataset }));

beforeAll(async () => {
  dir = await tempDir('browser');
  // A settle of 20 minutes puts the watermark inside both charts: batch bars left of it, speed bars right.
  runtime = await startRuntime({
    dataDir: dir,
    port: 0,
    batchEveryMs: 0,
    settleMs: 20 * 60_000,
    dashboard: true,
    logger: quietLogger(),
  });
  const events = [...orders, ...pageViews];
  for (let offset = 0; offset < events.length; offset += 500) {
    const response = await fetch(`${runtime.apiUrl}/events`, {
      method: 'POST',
      headers: { 'x-api-key': runtime.apiKey },
      body: JSON.stringify(events.slice(offset, offset + 500)),
    });
    expect(response.status).toBe(202);
  }
  await waitFor(
    () =>
      runtime.speedConsumer.stats.records >= events.length &&
      runtime.archiveConsumer.stats.records >= events.length,
    { timeoutMs: 30_000, what: 'the consumers' },
  );
  const runId = await runtime.startBatchRun();
  await waitFor(async () => (await runtime.batchRunner.describe(runId))?.status === 'SUCCEEDED', {
    timeoutMs: 30_000,
    what: 'the batch run',
  });
  browser = await chromium.launch(await browserLaunch());
  // A fixed locale: under LANG=C the browser's default is `en-US@posix`, which Intl refuses.
  page = await browser.newPage({ viewport: { width: 1200, height: 900 }, locale: 'en-US' });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // Seen by the server: the browser's CORS preflights never reach Playwright's request events.
  runtime.server.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    response.on('finish', () =>
      apiExchanges.push({
        method: request.method ?? '',
        path: new URL(request.url ?? '/', runtime.apiUrl).pathname,
        headers: request.headers,
        status: response.statusCode,
      }),
    );
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the dashboard page', () => {
  it('loads from another origin than the API and charts each view, batch and speed buckets apart', async () => {
    // The page at localhost, the API at 127.0.0.1: two origins, as a page served anywhere and API Gateway.
    const pageUrl = new URL(runtime.apiUrl);
    pageUrl.hostname = 'localhost';
    await page.goto(
      `${pageUrl.origin}/?refresh=1000&api=${encodeURIComponent(runtime.apiUrl)}#key=${runtime.apiKey}`,
    );
    await page.waitForSelector(`${revenuePanel}[data-refreshes] canvas`);
    const revenue = await panelData(revenuePanel);
    expect(Number(revenue.buckets)).toBeGreaterThan(40);
    expect(Number(revenue.batchBuckets)).toBeGreaterThan(0);
    expect(Number(revenue.speedBuckets)).toBeGreaterThan(0);
    // Every order falls in the chart's two days: the chart's total is the view's exact revenue.
    expect(Number(revenue.total)).toBe(revenueOf(orders));
    const perMinute = await panelData('section[data-view="orders_per_minute"]');
    expect(Number(perMinute.batchBuckets)).toBeGreaterThan(0);
    expect(Number(perMinute.speedBuckets)).toBeGreaterThan(0);
    // The status says refreshed once every panel's first answers are in (the revenue panel may be first).
    await page.waitForSelector('#status:has-text("refreshed")', { timeout: 10_000 });
    await expect(page.textContent('#status')).resolves.toContain('refreshed');
    expect(pageErrors).toEqual([]);

    // Batch bars are blue and speed bars orange on the canvas itself.
    const colours = await page.$eval(`${revenuePanel} canvas`, (element) => {
      const canvas = element as unknown as Canvas;
      const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
      let blue = 0;
      let orange = 0;
      for (let i = 0; pixels !== undefined && i < pixels.length; i += 4) {
        const [r, g, b] = [pixels[i] as number, pixels[i + 1] as number, pixels[i + 2] as number];
        if (b > r + 80 && b > g + 40) blue++;
        if (r > b + 120 && g > b + 40) orange++;
      }
      return { blue, orange };
    });
    expect(colours.blue).toBeGreaterThan(500);
    expect(colours.orange).toBeGreaterThan(100);
  });

  it('asks the API across origins: a preflight answered without the key, then the series with it', async () => {
    const series = apiExchanges.filter((exchange) => exchange.path === '/views/revenue/series');
    const preflight = series.findIndex((exchange) => exchange.method === 'OPTIONS');
    expect(series[preflight]?.headers.origin).toMatch(/^http:\/\/localhost:/);
    expect(series[preflight]?.headers['access-control-request-headers']).toContain('x-api-key');
    expect(series[preflight]?.headers['x-api-key']).toBeUndefined();
    expect(series[preflight]?.status).toBe(204);
    const get = series.findIndex((exchange) => exchange.method === 'GET');
    expect(get).toBeGreaterThan(preflight);
    expect(series[get]?.headers['x-api-key']).toBe(runtime.apiKey);
    expect(series[get]?.status).toBe(200);
  });

  it('draws the watermark where the API puts it', async () => {
    const revenue = await panelData(revenuePanel);
    expect(Number(revenue.watermark)).toBeGreaterThan(now - 2 * HOUR);
    expect(revenue.watermarkDrawn).toBe('true');
    const line = page.locator(`${revenuePanel} .watermark-line`);
    await expect(line.isVisible()).resolves.toBe(true);
    const lineBox = await line.boundingBox();
    const plotBox = await page.locator(`${revenuePanel} .u-over`).boundingBox();
    expect(lineBox).not.toBeNull();
    expect(plotBox).not.toBeNull();
    // The watermark is an hour or two before the chart's right edge (now + 1 hour, of 48 hours shown).
    const fromRight = ((plotBox?.x ?? 0) + (plotBox?.width ?? 0) - (lineBox?.x ?? 0)) / (plotBox?.width ?? 1);
    expect(fromRight).toBeGreaterThan(1 / 48);
    expect(fromRight).toBeLessThan(4 / 48);
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it("shows each view's observed lateness and the share restated after its bucket was exact, as GET /views says", async () => {
    // Prepare
    const answer = await fetch(`${runtime.apiUrl}/views`, { headers: { 'x-api-key': runtime.apiKey } });
    const { views } = (await answer.json()) as {
      views: {
        name: string;
        lateness: { events: number; p99Ms: number | null; lateAfterExactShare: number };
        settle: { mode: string; ms: number };
      }[];
    };

    // Act
    const shown = await Promise.all(views.map((view) => panelData(`section[data-view="${view.name}"]`)));
    const line = await page.textContent(`${revenuePanel} .lateness`);

    // Assess: every order arrived when posted, its event time up to 46 hours before.
    const revenue = views.find((view) => view.name === 'revenue');
    expect(revenue?.lateness.events).toBe(orders.filter((order) => order.status === 'paid').length);
    expect(revenue?.lateness.p99Ms).toBeGreaterThan(HOUR);
    views.forEach((view, index) => {
      expect(shown[index]?.latenessEvents).toBe(String(view.lateness.events));
      expect(shown[index]?.latenessP99).toBe(String(view.lateness.p99Ms));
      expect(shown[index]?.lateAfterExactShare).toBe(String(view.lateness.lateAfterExactShare));
      expect(shown[index]?.settle).toBe(`fixed ${20 * 60_000}`);
    });
    expect(line).toContain(`${revenue?.lateness.events.toLocaleString('en-US')} events`);
    expect(line).toMatch(
      /\d+(\.\d+)?% arrived after their bucket was exact \(restated\) · settle fixed 20m$/,
    );
  });

  it("marks a distinct measure's speed buckets as estimates within the view's stated bound, and its batch buckets not", async () => {
    // Prepare: the views with a distinct measure (none is a check too: no panel then shows the legend)
    const answer = await fetch(`${runtime.apiUrl}/views`, { headers: { 'x-api-key': runtime.apiKey } });
    const { views } = (await answer.json()) as {
      views: {
        name: string;
        distinct: {
          measures: string[];
          errorBound: number;
          errorSlack: number;
          overBoundShare: number;
        } | null;
      }[];
    };
    const distinctViews = views.filter((view) => view.distinct !== null);
    await expect(page.locator('.estimate-legend').count()).resolves.toBe(distinctViews.length);
    for (const view of distinctViews) {
      const panel = `section[data-view="${view.name}"]`;
      const measure = view.distinct?.measures[0] as string;
      // Act
      await page.selectOption(`${panel} select[data-role="measure"]`, measure);
      const shown = await waitFor<Record<string, string> | null>(
        async () => {
          const data = await panelData(panel);
          return data.measure === measure ? data : null;
        },
        { what: `the ${view.name} panel charting ${measure}` },
      );
      // Assess: the legend states the bound GET /views gives, as a percentage
      const bound = `±${Number(((view.distinct?.errorBound ?? 0) * 100).toFixed(1))}%`;
      await expect(page.textContent(`${panel} .estimate-legend`)).resolves.toContain(
        `≈ estimate (HyperLogLog, ${bound} or ±${view.distinct?.errorSlack}, whichever is more, for all but about 1 in 1,000 buckets)`,
      );
      expect(view.distinct?.overBoundShare).toBe(1 / 1_000);
      // Every bucket is either exact (batch) or marked (speed), as the series answer says; the orders
      // span the watermark, so both are charted, and the latest (speed) bucket's value carries the mark.
      expect(Number(shown?.exactBuckets)).toBe(Number(shown?.batchBuckets));
      expect(Number(shown?.estimateBuckets)).toBe(Number(shown?.speedBuckets));
      if (Number(shown?.speedBuckets) > 0) {
        expect(Number(shown?.exactBuckets)).toBeGreaterThan(0);
        await expect(page.textContent(`${panel} .latest`)).resolves.toMatch(/≈[\d,]+$/);
      }
      await expect(page.textContent(`${panel} .summary`)).resolves.toContain('do not add, so no total');
      expect(shown?.total).toBe('');
    }
    expect(pageErrors).toEqual([]);
  });

  it('charts one group of a distinct measure, the largest, and its sum over groups only marked as an upper bound', async () => {
    // Prepare: the distinct view's groups over the charted window (48 hours back from the next hour)
    const view = 'unique_customers';
    const panel = `section[data-view="${view}"]`;
    const to = Date.now() + HOUR;
    const answer = await fetch(`${runtime.apiUrl}/views/${view}/series?from=${to - 48 * HOUR}&to=${to}`, {
      headers: { 'x-api-key': runtime.apiKey },
    });
    const { buckets } = (await answer.json()) as {
      buckets: { groups: { key: { country: string | null }; values: { customers: number } }[] }[];
    };
    const sizes = new Map<string, number>();
    for (const bucket of buckets)
      for (const { key, values } of bucket.groups)
        if (key.country !== null) sizes.set(key.country, (sizes.get(key.country) ?? 0) + values.customers);
    const [largest] = [...sizes].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))[0] ?? [];
    expect(sizes.size).toBeGreaterThan(1);

    // Assess: by default one group, the largest, each bucket exact or an estimate as before
    const shown = await panelData(panel);
    expect(shown.filter).toBe(`country=${largest}`);
    expect(shown.upperBoundBuckets).toBe('0');
    expect(Number(shown.exactBuckets) + Number(shown.estimateBuckets)).toBe(Number(shown.buckets));

    // Act: the reader asks for all groups
    await page.selectOption(`${panel} select[data-field="country"]`, '');
    const all = await waitFor<Record<string, string> | null>(
      async () => {
        const data = await panelData(panel);
        return data.filter === 'all groups' ? data : null;
      },
      { what: `the ${view} panel over all groups` },
    );

    // Assess: every bucket is an upper bound, none is called exact, and the choice says so
    expect(all?.exactBuckets).toBe('0');
    expect(all?.estimateBuckets).toBe('0');
    expect(all?.upperBoundBuckets).toBe(all?.buckets);
    await expect(page.textContent(`${panel} select[data-field="country"] option[value=""]`)).resolves.toBe(
      'all (≤ sum, an upper bound)',
    );
    await expect(page.textContent(`${panel} .summary`)).resolves.toContain(
      '≤ upper bounds, summed over groups',
    );
    const latest = (await page.textContent(`${panel} .latest`)) ?? '';
    const listed = latest.replace(/^latest: /, '').split(' · ');
    expect(listed.length).toBeGreaterThan(0);
    for (const entry of listed) expect(entry).toMatch(/ ≤≈?[\d,]+$/);
    // Staying there across refreshes: the reader's choice, not replaced by the largest group.
    const refreshes = Number(all?.refreshes);
    const later = await waitFor<Record<string, string> | null>(
      async () => {
        const data = await panelData(panel);
        return Number(data.refreshes) > refreshes ? data : null;
      },
      { what: 'an auto-refresh' },
    );
    expect(later?.filter).toBe('all groups');
    expect(pageErrors).toEqual([]);
  });

  it('switching the group charts that group only', async () => {
    const all = await panelData(revenuePanel);
    await page.selectOption(`${revenuePanel} select[data-field="country"]`, 'US');
    const us = await waitFor<Record<string, string> | null>(
      async () => {
        const data = await panelData(revenuePanel);
        return data.filter === 'country=US' ? data : null;
      },
      { what: 'the US series' },
    );
    if (us === null) throw new Error('waitFor returns only a value');
    expect(Number(us.total)).toBe(revenueOf(orders.filter((order) => order.country === 'US')));
    expect(Number(us.total)).toBeLessThan(Number(all.total));
    expect(Number(us.total)).toBeGreaterThan(0);
    // It stays filtered across auto-refreshes.
    const refreshes = Number(us.refreshes);
    const later = await waitFor<Record<string, string> | null>(
      async () => {
        const data = await panelData(revenuePanel);
        return Number(data.refreshes) > refreshes ? data : null;
      },
      { what: 'an auto-refresh' },
    );
    expect(later?.total).toBe(us.total);
    expect(pageErrors).toEqual([]);
  });

  it('shows a total past 2^53 exactly', async () => {
    const huge = [
      {
        type: 'order',
        id: 'xl-1',
        ts: Date.now(),
        country: 'XL',
        amount: Number.MAX_SAFE_INTEGER,
        status: 'paid',
      },
      { type: 'order', id: 'xl-2', ts: Date.now(), country: 'XL', amount: 2, status: 'paid' },
    ];
    const posted = await fetch(`${runtime.apiUrl}/events`, {
      method: 'POST',
      headers: { 'x-api-key': runtime.apiKey },
      body: JSON.stringify(huge),
    });
    expect(posted.status).toBe(202);
    // The group list is learned from unfiltered answers.
    await page.selectOption(`${revenuePanel} select[data-field="country"]`, '');
    await page.waitForSelector(`${revenuePanel} select[data-field="country"] option[value="XL"]`, {
      state: 'attached',
    });
    await page.selectOption(`${revenuePanel} select[data-field="country"]`, 'XL');
    // The two events may be counted one refresh apart (they can go to different shards): wait for both.
    const xl = await waitFor(
      async () => {
        const data = await panelData(revenuePanel);
        const both = data.filter === 'country=XL' && BigInt(data.total ?? 0) > Number.MAX_SAFE_INTEGER;
        return both ? data : null;
      },
      { what: 'the XL series with both events' },
    );
    // 2^53 + 1: a float sum would show 9007199254740992.
    expect(xl?.total).toBe('9007199254740993');
    await expect(page.textContent(`${revenuePanel} .summary`)).resolves.toContain('9,007,199,254,740,993');
    expect(pageErrors).toEqual([]);
  });
});
