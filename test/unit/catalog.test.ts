import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { defineEventCatalog } from '../../functions/core';

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
  const fieldValue = fc.oneof(
    fc.jsonValue(),
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
      id: fc.string(),
      ts: fc.nat(),
      amount: fc.nat(),
      status: fc.constantFrom('paid', 'pending'),
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
