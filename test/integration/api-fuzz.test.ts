import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Runtime } from '../../local/runtime';
import { startTestRuntime } from '../support/runtime';

const RUNS = Number(process.env.DRIFTLESS_API_FUZZ_RUNS ?? 400);

let runtime: Runtime;
let stop: () => Promise<void>;

// The runtime synthesizes the stack first: seconds, more on a busy machine.
beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime('api-fuzz'));
}, 60_000);

afterAll(() => stop?.());

const segment = fc.oneof(
  fc.constantFrom(
    'revenue',
    'orders_per_minute',
    'run-x',
    '0b7c7a5e-1b7b-4c1b-9d5e-000000000000',
    '..',
    '%',
    '',
  ),
  fc.string(),
);
/** Percent-encoding that does not decode: bad hex, cut-off or invalid UTF-8, an encoded surrogate. */
const badEncoding = fc.oneof(
  fc.constantFrom('%ZZ', '%E0%A4%A', '%', '%C3', '%ED%A0%80', '%FF', '%C0%AF', '%F0%9F%98'),
  fc
    .tuple(fc.string({ maxLength: 3 }), fc.constantFrom('%ZZ', '%E0%A4%A', '%C3'))
    .map(([text, bad]) => `${encodeURIComponent(text)}${bad}`),
);
/** A path segment as sent: encoded, or badly encoded. */
const sentSegment = fc.oneof(segment.map(encodeURIComponent), badEncoding);
const path = fc.oneof(
  fc.constantFrom(
    '/views',
    '/events',
    '/batch-runs',
    '/exports',
    '/drift',
    '/data-quality',
    '/quarantine',
    '/openapi.json',
    '/',
  ),
  sentSegment.map((name) => `/views/${name}/series`),
  sentSegment.map((name) => `/views/${name}/top`),
  sentSegment.map((id) => `/batch-runs/${id}`),
  sentSegment.map((id) => `/exports/${id}`),
  fc.webPath(),
);
const time = fc.oneof(
  fc.integer({ min: -1e17, max: 1e17 }).map(String),
  fc
    .date({ noInvalidDate: false })
    .map((date) => (Number.isNaN(date.getTime()) ? 'Invalid' : date.toISOString())),
  fc.constantFrom('', '0', '2026-11-25', '2026-11-25T10:00:00+01:00', '1e3', '-0', '99999999999999999'),
  fc.string(),
);
const parameter = fc.oneof(
  fc.tuple(fc.constantFrom('from', 'to'), time),
  fc.tuple(fc.constant('step'), fc.oneof(fc.constantFrom('minute', 'hour', 'day', 'week'), fc.string())),
  fc.tuple(fc.constantFrom('exact', 'measure', 'limit', 'country', 'status'), fc.string()),
  fc.tuple(fc.string(), fc.string()),
);
const event = fc.record(
  {
    id: fc.oneof(fc.string(), fc.integer()),
    ts: fc.oneof(fc.integer(), fc.double(), fc.string()),
    amount: fc.oneof(fc.integer(), fc.double(), fc.constant(null)),
    status: fc.oneof(fc.constantFrom('paid', 'refunded', 'pending'), fc.string()),
    country: fc.string(),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.string(),
  fc.json(),
  event.map((value) => JSON.stringify(value)),
  fc.array(event, { maxLength: 5 }).map((value) => JSON.stringify(value)),
  fc
    .record(
      { view: segment, from: time, to: time, format: fc.string(), backfill: fc.array(segment) },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
);

it(`never answers client input with a 5xx (${RUNS} random requests)`, async () => {
  let requests = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
      path,
      fc.array(parameter, { maxLength: 6 }),
      // Appended as sent, not encoded: names and values that do not decode.
      fc.array(
        fc.oneof(
          fc.tuple(fc.constantFrom('from', 'to', 'step', 'limit', 'country', 'status'), badEncoding),
          fc.tuple(badEncoding, fc.string()),
        ),
        { maxLength: 2 },
      ),
      body,
      async (method, requestPath, parameters, badParameters, requestBody) => {
        const query = [
          new URLSearchParams(parameters).toString(),
          ...badParameters.map(([name, value]) => `${name}=${value}`),
        ]
          .filter((part) => part !== '')
          .join('&');
        const response = await fetch(`${runtime.apiUrl}${requestPath}${query ? `?${query}` : ''}`, {
          method,
          headers: { 'x-api-key': runtime.apiKey },
          ...(method === 'GET' || requestBody === undefined ? {} : { body: requestBody }),
        });
        const text = await response.text();
        requests++;
        expect(
          response.status,
          `${method} ${requestPath}?${query} ${requestBody ?? ''}: ${text}`,
        ).toBeLessThan(500);
        if (response.status >= 400) {
          // Every refusal is JSON: an error naming its status, or ingest's per-event errors.
          const answer = JSON.parse(text);
          if (answer.statusCode === undefined) expect(answer.errors.length).toBeGreaterThan(0);
          else expect(answer.statusCode).toBe(response.status);
        }
      },
    ),
    { numRuns: RUNS },
  );
  console.log(`api fuzz: ${requests} requests, none answered 5xx`);
});
