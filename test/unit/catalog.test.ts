import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { catalogs, orderEvents, pageViewEvents } from '../../events';
import {
  codePointLength,
  DEFAULT_DEDUPE_HORIZON_DAYS,
  DEFAULT_TIME_RANGE,
  defineEventCatalog,
  defineEventCatalogs,
  EVENT_TYPE_FIELD,
  MAX_CATALOG_NAME_LENGTH,
  MAX_DAY_TIME,
  MAX_DEDUPE_HORIZON_DAYS,
  ROW_SORT_KEY_BUDGET_BYTES,
} from '../../functions/core';
import { withCatalog } from '../support/events';

const paid = { id: 'o1', ts: 1_764_000_000_000, country: 'US', amount: 1999, status: 'paid' };

describe('order event schema', () => {
  it('accepts a valid event, with optional fields missing or null', () => {
    expect(orderEvents.parse(paid)).toEqual({ ok: true, event: paid });
    expect(orderEvents.parse({ ...paid, discount: null })).toEqual({
      ok: true,
      event: { ...paid, discount: null },
    });
  });

  it('drops fields the catalog does not know', () => {
    const result = orderEvents.parse({ ...paid, note: 'gift' });
    expect(result.ok && 'note' in result.event).toBe(false);
  });

  it.each([
    ['amount', { ...paid, amount: '19.99' }],
    ['amount', { ...paid, amount: 19.5 }],
    ['amount', { ...paid, amount: -1 }],
    ['amount', { ...paid, amount: 2 ** 53 }],
    ['discount', { ...paid, discount: -3 }],
    ['status', { ...paid, status: 'shipped' }],
    ['status', { id: 'o1', ts: 1, amount: 1 }],
    ['id', { ...paid, id: '' }],
    ['ts', { ...paid, ts: -1 }],
    ['country', { ...paid, country: 7 }],
  ])('rejects a bad %s and names the field', (field, input) => {
    const result = orderEvents.parse(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((error) => error.field)).toContain(field);
  });

  it.each([
    ['ts', { ...paid, ts: Date.UTC(2000, 0, 1) - 1 }],
    ['ts', { ...paid, ts: Date.UTC(2100, 0, 1) }],
    ['ts', { ...paid, ts: 9e15 }],
    ['id', { ...paid, id: 'i'.repeat(65) }],
    ['customer', { ...paid, customer: 'c'.repeat(33) }],
    ['country', { ...paid, country: 'C'.repeat(17) }],
    ['country', { ...paid, country: '😀'.repeat(17) }],
    ['product', { ...paid, product: 'p'.repeat(33) }],
    ['country', { ...paid, country: 'x\ud800y' }],
    ['customer', { ...paid, customer: '\udc00' }],
    ['id', { ...paid, id: `o${'\ud83d'}` }],
  ])('rejects a %s outside the catalog bounds and names it', (field, input) => {
    // Act
    const result = orderEvents.parse(input);
    // Assess
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((error) => error.field)).toEqual([field]);
  });

  it.each([
    ['the first millisecond of the time range', { ...paid, ts: Date.UTC(2000, 0, 1) }],
    ['the last millisecond of the time range', { ...paid, ts: Date.UTC(2100, 0, 1) - 1 }],
    ['strings at their maximum lengths', { ...paid, id: 'i'.repeat(64), country: 'C'.repeat(16) }],
    ['16 characters of two UTF-16 units each', { ...paid, country: '😀'.repeat(16) }],
  ])('accepts %s', (_, input) => {
    // Act
    const result = orderEvents.parse(input);
    // Assess
    expect(result).toEqual({ ok: true, event: input });
  });

  it.each([null, 'text', 42, []])('rejects %j as not an event', (input) => {
    const result = orderEvents.parse(input);
    expect(result).toMatchObject({ ok: false, errors: [{ field: 'event' }] });
  });
});

describe('defineEventCatalog', () => {
  it('refuses an id field that is not a required string', () => {
    expect(() =>
      defineEventCatalog({
        name: 'bad',
        idField: 'id',
        timeField: 'ts',
        fields: { id: { type: 'integer', required: true }, ts: { type: 'integer', required: true, min: 0 } },
      }),
    ).toThrow(/id field id must be a required string/);
  });

  it('refuses a time field that may be negative', () => {
    expect(() =>
      defineEventCatalog({
        name: 'bad',
        idField: 'id',
        timeField: 'ts',
        fields: { id: { type: 'string', required: true }, ts: { type: 'integer', required: true } },
      }),
    ).toThrow(/time field ts must be a required integer >= 0/);
  });

  const fields = {
    id: { type: 'string', required: true, nonEmpty: true },
    ts: { type: 'integer', required: true, min: 0 },
  } as const;

  it('bounds event time by its time range, 2000 to 2100 unless told', () => {
    // Prepare
    const recent = defineEventCatalog({ name: 'recent', idField: 'id', timeField: 'ts', fields });
    const old = defineEventCatalog({
      name: 'old',
      idField: 'id',
      timeField: 'ts',
      timeRange: { from: 0, to: Date.UTC(2000, 0, 1) },
      fields,
    });
    const event = { id: 'e', ts: Date.UTC(1990, 0, 1) };
    // Act
    const outcomes = [recent.accepts(event), old.accepts(event)];
    // Assess
    expect(recent.timeRange).toEqual(DEFAULT_TIME_RANGE);
    expect(outcomes).toEqual([false, true]);
  });

  it('counts copies of an id within one day either side once unless told otherwise', () => {
    // Act
    const catalogs = [
      defineEventCatalog({ name: 'default', idField: 'id', timeField: 'ts', fields }),
      defineEventCatalog({ name: 'weekly', idField: 'id', timeField: 'ts', fields, dedupeHorizonDays: 7 }),
      defineEventCatalog({ name: 'daily', idField: 'id', timeField: 'ts', fields, dedupeHorizonDays: 0 }),
    ];
    // Assess
    expect(DEFAULT_DEDUPE_HORIZON_DAYS).toBe(1);
    expect(catalogs.map((catalog) => catalog.dedupeHorizonDays)).toEqual([1, 7, 0]);
    expect(orderEvents.dedupeHorizonDays).toBe(1);
  });

  it.each([-1, 1.5, Number.NaN, MAX_DEDUPE_HORIZON_DAYS + 1])(
    'refuses a dedupe horizon of %d days',
    (dedupeHorizonDays) => {
      expect(() =>
        defineEventCatalog({ name: 'bad', idField: 'id', timeField: 'ts', fields, dedupeHorizonDays }),
      ).toThrow(/dedupeHorizonDays .* must be a whole number of days from 0 to 31/);
    },
  );

  it.each([
    ['ends past the last day dayOf can name', { from: 0, to: MAX_DAY_TIME + 1 }],
    ['is empty', { from: 1_000, to: 1_000 }],
    ['starts before 1970', { from: -1, to: 1_000 }],
  ])('refuses a time range that %s', (_, timeRange) => {
    expect(() =>
      defineEventCatalog({ name: 'bad', idField: 'id', timeField: 'ts', timeRange, fields }),
    ).toThrow(/time range/);
  });

  it('refuses string lengths whose group key could pass a DynamoDB sort key', () => {
    expect(() =>
      defineEventCatalog({
        name: 'bad',
        idField: 'id',
        timeField: 'ts',
        fields: { ...fields, customer: { type: 'string', required: false, maxLength: 200 } },
      }),
    ).toThrow(new RegExp(`at most ${ROW_SORT_KEY_BUDGET_BYTES}`));
  });

  it('refuses an id longer than a Kinesis partition key holds', () => {
    expect(() =>
      defineEventCatalog({
        name: 'bad',
        idField: 'id',
        timeField: 'ts',
        fields: { ...fields, id: { type: 'string', required: true, nonEmpty: true, maxLength: 129 } },
      }),
    ).toThrow(/Kinesis partition key/);
  });

  it('refuses an id that may be empty: Kinesis takes no empty partition key', () => {
    expect(() =>
      defineEventCatalog({
        name: 'bad',
        idField: 'id',
        timeField: 'ts',
        fields: { ...fields, id: { type: 'string', required: true } },
      }),
    ).toThrow(/nonEmpty/);
  });

  it('refuses field names that are not plain identifiers', () => {
    expect(() =>
      defineEventCatalog({
        name: 'bad',
        idField: 'id',
        timeField: 'ts',
        fields: {
          id: { type: 'string', required: true },
          ts: { type: 'integer', required: true, min: 0 },
          'Total Amount': { type: 'integer', required: false },
        },
      }),
    ).toThrow(/Total Amount/);
  });
});

describe('the hot-path acceptor', () => {
  /** Strings either side of each field's maximum length, in 1- and 2-unit characters, some ill-formed. */
  const nearLimit = fc
    .tuple(
      fc.constantFrom(15, 16, 17, 31, 32, 33, 63, 64, 65),
      fc.constantFrom('a', 'é', '😀', '\ud800', '\udfff'),
      fc.constantFrom('', 'b', '😀', '\ud83d'),
    )
    .map(([length, unit, tail]) => unit.repeat(length) + tail);
  const fieldValue = fc.oneof(
    fc.jsonValue(),
    nearLimit,
    fc.string({ unit: 'binary', maxLength: 70 }),
    fc.constantFrom(
      DEFAULT_TIME_RANGE.from - 1,
      DEFAULT_TIME_RANGE.from,
      DEFAULT_TIME_RANGE.to - 1,
      DEFAULT_TIME_RANGE.to,
      MAX_DAY_TIME,
    ),
    fc.constantFrom(
      'paid',
      'refunded',
      'pending',
      '',
      'US',
      null,
      undefined,
      0,
      -1,
      1.5,
      2 ** 53,
      2 ** 53 - 1,
      -0,
    ),
    fc.integer(),
  );
  const candidate = fc.oneof(
    fc.record(Object.fromEntries(Object.keys(orderEvents.fields).map((field) => [field, fieldValue])), {
      requiredKeys: [],
    }),
    fc.record({
      id: fc.oneof(fc.string(), nearLimit),
      ts: fc.oneof(
        fc.nat(),
        fc.integer({ min: DEFAULT_TIME_RANGE.from - 2, max: DEFAULT_TIME_RANGE.to + 2 }),
      ),
      amount: fc.nat(),
      status: fc.constantFrom('paid', 'pending'),
      country: fc.oneof(nearLimit, fc.string({ unit: 'binary', maxLength: 20 })),
      customer: fc.oneof(nearLimit, fc.string({ unit: 'binary', maxLength: 40 })),
    }),
    fc.jsonValue(),
  );

  it('accepts exactly what the zod schema accepts', () => {
    fc.assert(
      fc.property(candidate, (input) => {
        expect(orderEvents.accepts(input)).toBe(orderEvents.schema.safeParse(input).success);
      }),
      { numRuns: 5_000 },
    );
  });

  it('parses to what zod parses', () => {
    fc.assert(
      fc.property(candidate, (input) => {
        const zod = orderEvents.schema.safeParse(input);
        const parsed = orderEvents.parse(input);
        expect(parsed.ok).toBe(zod.success);
        if (parsed.ok && zod.success) expect(parsed.event).toEqual(zod.data);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('codePointLength', () => {
  it.each([
    ['', 0],
    ['abc', 3],
    ['😀😀', 2],
    ['e\u0301', 2],
    ['\ud800x', 2],
    ['x\udfff\ud83d', 3],
  ])('counts %j as %i characters, as SQL length() does', (text, expected) => {
    expect(codePointLength(text)).toBe(expected);
  });
});

describe('event catalogs: an event names its own in `type`', () => {
  const view = { type: 'page_view', id: 'v1', ts: 1_764_000_000_000, path: '/docs', country: 'FR' };

  it('finds the catalog an event names, and parses it by that catalog (its fields only)', () => {
    expect(catalogs.names).toEqual(['order', 'page_view']);
    expect(catalogs.catalogOf({ ...paid, type: 'order' })).toEqual({ ok: true, catalog: orderEvents });
    expect(catalogs.parse(view)).toEqual({
      ok: true,
      catalog: pageViewEvents,
      event: { id: 'v1', ts: 1_764_000_000_000, path: '/docs', country: 'FR' },
    });
  });

  it.each([
    ['an unknown type', { ...paid, type: 'refund' }, 'unknown event type "refund": one of order, page_view'],
    ['no type', paid, 'no type: one of order, page_view'],
    ['a null type', { ...paid, type: null }, 'no type: one of order, page_view'],
    ['a type that is not a string', { ...paid, type: ['order'] }, 'not a string: one of order, page_view'],
    ['not an object', 'order', 'no type: one of order, page_view'],
  ])('refuses %s, naming the type field and the known types', (_, input, message) => {
    expect(catalogs.catalogOf(input)).toEqual({ ok: false, error: { field: EVENT_TYPE_FIELD, message } });
    expect(catalogs.parse(input)).toEqual({ ok: false, catalog: null, errors: [{ field: 'type', message }] });
  });

  it("holds an event to the catalog its type names, not another's", () => {
    // An order's fields under the page views' type: a page view without a path.
    const parsed = catalogs.parse({ ...paid, type: 'page_view' });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.catalog).toBe(pageViewEvents);
      expect(parsed.errors.map((error) => error.field)).toEqual(['path']);
    }
  });

  it('refuses two catalogs of one name, and none', () => {
    expect(() => defineEventCatalogs([orderEvents, pageViewEvents, orderEvents])).toThrow(
      'event catalogs: two catalogs are named order',
    );
    expect(() => defineEventCatalogs([])).toThrow('define at least one');
  });

  it('refuses a field named type, and a name that cannot be a folder and a table', () => {
    const fields = {
      id: { type: 'string', required: true, nonEmpty: true },
      ts: { type: 'integer', required: true, min: 0 },
    } as const;
    expect(() =>
      defineEventCatalog({
        name: 'click',
        idField: 'id',
        timeField: 'ts',
        fields: { ...fields, type: { type: 'string', required: false } },
      }),
    ).toThrow('event catalog click: a field may not be named type');
    for (const name of ['Click', '_click', 'page-view', '1st', ''])
      expect(() => defineEventCatalog({ name, idField: 'id', timeField: 'ts', fields })).toThrow(
        'its name is not [a-z][a-z0-9_]*',
      );
    expect(defineEventCatalog({ name: 'click_2', idField: 'id', timeField: 'ts', fields }).name).toBe(
      'click_2',
    );
  });

  it('refuses a name longer than 64 characters: the Glue table events_<name> must stay short', () => {
    const fields = {
      id: { type: 'string', required: true, nonEmpty: true },
      ts: { type: 'integer', required: true, min: 0 },
    } as const;
    const longest = `c${'x'.repeat(MAX_CATALOG_NAME_LENGTH - 1)}`;
    expect(defineEventCatalog({ name: longest, idField: 'id', timeField: 'ts', fields }).name).toBe(longest);
    expect(() => defineEventCatalog({ name: `${longest}x`, idField: 'id', timeField: 'ts', fields })).toThrow(
      `its name has 65 characters; at most 64 (it names the Glue table events_<name>)`,
    );
  });

  it('puts a variant of a catalog in place of the one of its name, first, the others kept', () => {
    const longerHorizon = defineEventCatalog({ ...pageViewEvents, dedupeHorizonDays: 3 });
    const replaced = withCatalog(catalogs, longerHorizon);
    expect(replaced.all).toEqual([longerHorizon, orderEvents]);
    expect(replaced.get('page_view')).toBe(longerHorizon);
    expect(withCatalog(undefined, longerHorizon).all).toEqual([longerHorizon]);
  });
});
