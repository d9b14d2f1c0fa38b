import { orderEvents, pageViewEvents } from './events';
import { coalesce, count, defineView, fieldsOf, sum } from './functions/core';

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

export const views = [revenue, ordersPerMinute, pageViews];
