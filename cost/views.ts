import { orderEvents } from '../events';
import {
  BUCKET_WIDTH_MS,
  type BucketWidth,
  count,
  defineView,
  fieldsOf,
  sum,
  type ViewDefinition,
} from '../functions/core';
import { views as demoViews } from '../views';
import { WorkloadError } from './model';

const order = fieldsOf(orderEvents);
type OrderGroupField = NonNullable<
  Parameters<typeof defineView<typeof orderEvents.fields>>[1]['groupBy']
>[number];

/** `demo`: the views of views.ts. */
export const DEMO_VIEWS = 'demo';

/**
 * Views of a given shape over the order events, to price more or other views than the demo's: a
 * comma-separated list of `<bucket>[:<field>+<field>]` (`hour:country,minute:status+product`), each a
 * view counting orders and summing their amounts per bucket and group; or `demo`.
 */
export function viewsOfShapes(spec: string): ViewDefinition[] {
  if (spec === DEMO_VIEWS) return [...demoViews];
  return spec.split(',').map((shape, index) => {
    const [bucket = '', fields = ''] = shape.trim().split(':');
    if (!(bucket in BUCKET_WIDTH_MS))
      throw new WorkloadError(
        `shapes like hour:country,minute:status: view ${index + 1} has bucket '${bucket}', not one of ${Object.keys(BUCKET_WIDTH_MS).join(', ')}`,
      );
    const groupBy = fields === '' ? [] : (fields.split('+') as OrderGroupField[]);
    try {
      return defineView(orderEvents, {
        name: `v${index + 1}_${bucket}${groupBy.map((field) => `_${field}`).join('')}`,
        version: 1,
        bucket: bucket as BucketWidth,
        groupBy,
        measures: { orders: count(), amount: sum(order.amount) },
      });
    } catch (error) {
      throw new WorkloadError(`shapes like hour:country,minute:status: ${(error as Error).message}`);
    }
  });
}
