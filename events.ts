import { defineEventCatalog, type EventOf } from './functions/core';

/** Order events: the raw events of the demo. Amounts are integer cents. */
export const orderEvents = defineEventCatalog({
  name: 'order',
  idField: 'id',
  timeField: 'ts',
  fields: {
    id: { type: 'string', required: true, nonEmpty: true },
    /** Event time, epoch milliseconds. */
    ts: { type: 'integer', required: true, min: 0 },
    customer: { type: 'string', required: false },
    country: { type: 'string', required: false },
    product: { type: 'string', required: false },
    amount: { type: 'integer', required: true, min: 0 },
    discount: { type: 'integer', required: false, min: 0 },
    status: { type: 'string', required: true, oneOf: ['paid', 'refunded', 'pending'] },
  },
});

export type OrderEvent = EventOf<typeof orderEvents.fields>;
