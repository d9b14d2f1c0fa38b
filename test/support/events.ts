import { orderEvents, pageViewEvents } from '../../events';
import {
  count,
  defineEventCatalog,
  defineEventCatalogs,
  defineView,
  EVENT_TYPE_FIELD,
  type EventCatalog,
  type EventCatalogs,
} from '../../functions/core';

/** An event as a producer sends it: its catalog's name in `type` (the catalog's fields alone are refused). */
export const withType = <E extends object>(
  catalog: Pick<EventCatalog, 'name'>,
  event: E,
): E & { readonly type: string } => ({ [EVENT_TYPE_FIELD]: catalog.name, ...event }) as E & { type: string };

/** Orders as sent: most tests write an order's fields alone, this adds `type: 'order'`. */
export const sentOrders = <E extends object>(events: readonly E[]): (E & { readonly type: string })[] =>
  events.map((event) => withType(orderEvents, event));

/** Page views as sent: with `type: 'page_view'`. */
export const sentPageViews = <E extends object>(events: readonly E[]): (E & { readonly type: string })[] =>
  events.map((event) => withType(pageViewEvents, event));

/**
 * The catalogs with `catalog` in place of the one of its name (or added, if none has it), first: the
 * catalogs a test's variant of a catalog (another dedupe horizon) is decoded, stored and rebuilt with,
 * alongside the stack's others.
 */
export function withCatalog(catalogs: EventCatalogs | undefined, catalog: EventCatalog): EventCatalogs {
  const others = (catalogs?.all ?? []).filter((other) => other.name !== catalog.name);
  return defineEventCatalogs([catalog, ...others]);
}

/**
 * A catalog `events.ts` does not define, and a view over it: what a user gets by defining a catalog and
 * forgetting to add it to `catalogs`.
 */
export const signupEvents = defineEventCatalog({
  name: 'signup',
  idField: 'id',
  timeField: 'ts',
  fields: {
    id: { type: 'string', required: true, nonEmpty: true },
    ts: { type: 'integer', required: true, min: 0 },
  },
});
export const signupsPerDay = defineView(signupEvents, {
  name: 'signups_per_day',
  version: 1,
  bucket: 'day',
  measures: { signups: count() },
});

/**
 * A catalog named as the orders' with a field the orders' lacks (`coupon`): a view stored over it no
 * longer builds over the orders' catalog, as after a catalog change that dropped the field.
 */
export const ordersWithCoupon = defineEventCatalog({
  name: orderEvents.name,
  idField: 'id',
  timeField: 'ts',
  dedupeHorizonDays: 1,
  fields: {
    id: { type: 'string', required: true, nonEmpty: true, maxLength: 64 },
    ts: { type: 'integer', required: true, min: 0 },
    coupon: { type: 'string', required: false, maxLength: 16 },
    amount: { type: 'integer', required: true, min: 0 },
  },
});
