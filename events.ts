import { defineEventCatalog, defineEventCatalogs, type EventOf } from './functions/core';

/**
 * Order events: the raw events of the demo. Amounts are integer cents.
 *
 * String lengths are code points, chosen so every key built from them fits AWS's limits with room:
 * - the id is the Kinesis partition key (1 to 256 characters): 64 code points are at most 128 UTF-16
 *   units, half the limit however Kinesis counts;
 * - a group key (at most 4 string fields) lands in a DynamoDB sort key (1,024 bytes). At worst, with
 *   the 4 longest fields (id 64, customer 32, product 32, country 16 = 144 code points) at 6 bytes
 *   each (a control character is `\u00XX` in the key's JSON): 16 (bucket, `#`) + 2 (`[]`) + 3 (`,`)
 *   + 4 x 2 (quotes) + 144 x 6 = 893 bytes, within the catalog's 896-byte budget, 131 under the limit.
 * `defineEventCatalog` refuses lengths that would not fit. Times: 2000-01-01 to 2100-01-01 (the default).
 */
export const orderEvents = defineEventCatalog({
  name: 'order',
  idField: 'id',
  timeField: 'ts',
  // Copies of an order a day or less apart count once: a producer's retries, across midnight too.
  dedupeHorizonDays: 1,
  fields: {
    id: { type: 'string', required: true, nonEmpty: true, maxLength: 64 },
    /** Event time, epoch milliseconds, within the catalog's time range. */
    ts: { type: 'integer', required: true, min: 0 },
    customer: { type: 'string', required: false, maxLength: 32 },
    country: { type: 'string', required: false, maxLength: 16 },
    product: { type: 'string', required: false, maxLength: 32 },
    amount: { type: 'integer', required: true, min: 0 },
    discount: { type: 'integer', required: false, min: 0 },
    status: { type: 'string', required: true, oneOf: ['paid', 'refunded', 'pending'] },
  },
});

export type OrderEvent = EventOf<typeof orderEvents.fields>;

/**
 * Page views: one per page shown. The same key budget as orders: its four string fields (id 64, session 32,
 * path 32, country 16 = 144 code points) make the same worst sort key, 893 bytes.
 */
export const pageViewEvents = defineEventCatalog({
  name: 'page_view',
  idField: 'id',
  timeField: 'ts',
  // A browser's retry lands within seconds: a day covers it, across midnight too.
  dedupeHorizonDays: 1,
  fields: {
    id: { type: 'string', required: true, nonEmpty: true, maxLength: 64 },
    /** Event time, epoch milliseconds, within the catalog's time range. */
    ts: { type: 'integer', required: true, min: 0 },
    session: { type: 'string', required: false, maxLength: 32 },
    path: { type: 'string', required: true, nonEmpty: true, maxLength: 32 },
    country: { type: 'string', required: false, maxLength: 16 },
  },
});

export type PageViewEvent = EventOf<typeof pageViewEvents.fields>;

/**
 * Every catalog of the stack: an event names its own in its `type` field (`{"type": "order", ...}`), the
 * catalog's name. Each has its own archive folder and Glue table; a view counts its catalog's events only.
 */
export const catalogs = defineEventCatalogs([orderEvents, pageViewEvents]);
