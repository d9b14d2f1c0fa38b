import { describe, expect, it } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import {
  caseWhen,
  checkViewCatalogs,
  coalesce,
  count,
  defineEventCatalog,
  defineView,
  fieldsOf,
  type Measure,
  sum,
  type ViewDefinition,
  ViewDefinitionError,
  validateView,
} from '../../functions/core';
import { ordersPerMinute, revenue, views } from '../../views';
import { signupsPerDay } from '../support/events';

const order = fieldsOf(orderEvents);

describe('demo views', () => {
  it('revenue is hourly by country, summing amount net of discount over paid orders', () => {
    expect(revenue).toMatchObject({
      name: 'revenue',
      time: { field: 'ts', bucket: 'hour' },
      groupBy: ['country'],
    });
    expect(Object.keys(revenue.measures)).toEqual(['revenue', 'orders']);
    expect(revenue.where).toEqual({
      kind: 'compare',
      op: '=',
      left: { kind: 'field', name: 'status' },
      right: { kind: 'string', value: 'paid' },
    });
  });

  it('orders_per_minute counts every order per minute by status', () => {
    expect(ordersPerMinute).toMatchObject({
      name: 'orders_per_minute',
      time: { bucket: 'minute' },
      groupBy: ['status'],
      measures: { orders: { kind: 'count' } },
      where: null,
    });
  });

  it('is plain data that survives a JSON round trip', () => {
    const { events: _, ...definition } = revenue;
    expect(JSON.parse(JSON.stringify(definition))).toEqual(definition);
  });
});

describe('view builders', () => {
  it('build case and coalesce nodes', () => {
    const view = defineView(orderEvents, {
      name: 'net',
      version: 2,
      bucket: 'day',
      measures: {
        net: sum(caseWhen(order.status.eq('refunded'), order.amount.times(-1)).else(order.amount)),
        discounted: sum(coalesce(order.discount, 0)),
      },
    });
    expect(view.measures.net).toMatchObject({ kind: 'sum', expr: { kind: 'case', else: { kind: 'field' } } });
  });

  it('refuses an integer literal that is not a safe integer', () => {
    expect(() => order.amount.plus(2 ** 60)).toThrow(RangeError);
  });
});

const base: ViewDefinition = revenue;
const broken = (change: Partial<ViewDefinition>): ViewDefinition => ({ ...base, ...change });

describe('view validation names the offending part', () => {
  it.each<[string, ViewDefinition, string]>([
    ['a bad name', broken({ name: 'Revenue View' }), 'name'],
    ['a version of 0', broken({ version: 0 }), 'version'],
    ['an unknown bucket', broken({ time: { field: 'ts', bucket: 'week' as 'day' } }), 'time.bucket'],
    ['another time field', broken({ time: { field: 'amount', bucket: 'day' } }), 'time.field'],
    ['an integer group field', broken({ groupBy: ['amount'] }), 'groupBy.0'],
    ['an unknown group field', broken({ groupBy: ['country', 'planet'] }), 'groupBy.1'],
    ['a repeated group field', broken({ groupBy: ['country', 'country'] }), 'groupBy.1'],
    ['no measures', broken({ measures: {} }), 'measures'],
    ['a measure named bucket', broken({ measures: { bucket: count() } }), 'measures.bucket'],
    ['a measure named like a group', broken({ measures: { country: count() } }), 'measures.country'],
    [
      'a sum over a string',
      broken({ measures: { total: { kind: 'sum', expr: { kind: 'field', name: 'country' } } as Measure } }),
      'measures.total',
    ],
    ['a where that is not boolean', broken({ where: { kind: 'field', name: 'amount' } }), 'where'],
    [
      'an unknown field deep in an expression',
      broken({ where: { kind: 'not', arg: { kind: 'isNull', arg: { kind: 'field', name: 'colour' } } } }),
      'where.arg.arg',
    ],
    [
      'an ordering comparison of strings',
      broken({
        where: {
          kind: 'compare',
          op: '<',
          left: { kind: 'field', name: 'country' },
          right: { kind: 'string', value: 'M' },
        },
      }),
      'where',
    ],
    [
      'a coalesce of an integer and a string',
      broken({
        measures: {
          total: {
            kind: 'max',
            expr: {
              kind: 'coalesce',
              args: [
                { kind: 'field', name: 'amount' },
                { kind: 'string', value: '0' },
              ],
            },
          },
        },
      }),
      'measures.total.expr.args.1',
    ],
    [
      'a field in an IN list',
      broken({
        where: {
          kind: 'in',
          arg: { kind: 'field', name: 'country' },
          values: [{ kind: 'field', name: 'customer' } as unknown as { kind: 'string'; value: string }],
        },
      }),
      'where.values.0',
    ],
    [
      'a measure named __proto__',
      broken({ measures: JSON.parse('{"__proto__": {"kind": "count"}}') }),
      'measures.__proto__',
    ],
  ])('rejects %s', (_, view, path) => {
    try {
      validateView(view);
      expect.unreachable('validateView accepted the view');
    } catch (error) {
      expect(error).toBeInstanceOf(ViewDefinitionError);
      expect((error as ViewDefinitionError).path).toBe(path);
    }
  });
});

describe('a view over a catalog the stack does not define', () => {
  it("accepts the demo's views over the demo's catalogs", () => {
    expect(() => checkViewCatalogs(views, catalogs)).not.toThrow();
  });

  it('is refused, naming the view and the catalog', () => {
    expect(() => checkViewCatalogs([revenue, signupsPerDay], catalogs)).toThrow(
      new ViewDefinitionError(
        'signups_per_day',
        'events',
        "its catalog signup is not one of the stack's (order, page_view): add it to catalogs in events.ts",
      ),
    );
  });

  it("accepts a copy of a stack's catalog with the same rules: the catalog of a fresh import of events.ts", () => {
    const copy = defineEventCatalog({ ...orderEvents });
    const view = defineView(copy, { name: 'orders', version: 1, bucket: 'hour', measures: { n: count() } });
    expect(copy).not.toBe(orderEvents);
    expect(() => checkViewCatalogs([view], catalogs)).not.toThrow();
  });

  it("is refused over a look-alike of a stack's catalog: another definition under the same name", () => {
    const lookAlike = defineEventCatalog({ ...orderEvents, dedupeHorizonDays: 0 });
    const view = defineView(lookAlike, {
      name: 'orders_no_dedupe',
      version: 1,
      bucket: 'hour',
      measures: { n: count() },
    });
    expect(() => checkViewCatalogs([view], catalogs)).toThrow(
      "view orders_no_dedupe: events: its catalog order has other rules than the stack's order",
    );
  });
});
