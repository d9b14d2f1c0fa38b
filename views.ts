import { orderEvents, pageViewEvents } from './events';
import { coalesce, count, countDistinct, defineView, fieldsOf, sum } from './functions/core';

const order = fieldsOf(orderEvents);

/** Paid revenue in cents (amount net of discount; a missing discount is none) and paid orders, per hour and country. */
export const revenue = defineView(orderEvents, {
  name: 'revenue',
  version: 1,
  where: order.status.eq('paid'),
  bucket: 'hour',
  groupBy: ['country'],
  measures: {
    revenue: sum(order.amount.minus(coalesce(order.discount, 0))),
    orders: count(),
  },
});

/** Orders of every status, per minute. */
export const ordersPerMinute = defineView(orderEvents, {
  name: 'orders_per_minute',
  version: 1,
  bucket: 'minute',
  groupBy: ['status'],
  measures: { orders: count() },
});

/** Page views per hour and country: a view over the second catalog, which counts page views only. */
export const pageViews = defineView(pageViewEvents, {
  name: 'page_views',
  version: 1,
  bucket: 'hour',
  groupBy: ['country'],
  measures: { views: count() },
});

/**
 * Customers with a paid order, per hour and country: exact below the watermark (COUNT(DISTINCT) in SQL),
 * a HyperLogLog estimate above it (±1.6% standard error at the default precision, 12). Served at its
 * own bucket only: distinct counts of two hours do not add up to the day's.
 */
export const uniqueCustomers = defineView(orderEvents, {
  name: 'unique_customers',
  version: 1,
  where: order.status.eq('paid'),
  bucket: 'hour',
  groupBy: ['country'],
  measures: { customers: countDistinct(order.customer) },
});

export const views = [revenue, ordersPerMinute, pageViews, uniqueCustomers];
