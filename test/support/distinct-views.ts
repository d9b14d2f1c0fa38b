import { orderEvents } from '../../events';
import { count, countDistinct, defineView, fieldsOf } from '../../functions/core';

const order = fieldsOf(orderEvents);

/** Orders and distinct customers per hour and country: one distinct measure beside a count (not a demo view). */
export const customers = defineView(orderEvents, {
  name: 'customers',
  version: 1,
  bucket: 'hour',
  groupBy: ['country'],
  measures: { orders: count(), customers: countDistinct(order.customer) },
});
