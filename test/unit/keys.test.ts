import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import {
  DEFAULT_TIME_RANGE,
  DYNAMODB_SORT_KEY_MAX_BYTES,
  dayOf,
  type FieldRule,
  KINESIS_PARTITION_KEY_MAX_UNITS,
  MAX_DAY_TIME,
  MAX_GROUP_FIELDS,
  ROW_SORT_KEY_BUDGET_BYTES,
  rowSortKey,
  speedItemKey,
  worstRowSortKeyBytes,
} from '../../functions/core';
import {
  archiveChangeKey,
  archiveChangesSince,
  archiveDayKey,
  archiveDaysRange,
  rowsChunkKey,
  type SortKeyRange,
} from '../../functions/core/keys';

type StringRule = Extract<FieldRule, { type: 'string' }>;
const stringFields = Object.entries(orderEvents.rules).filter(
  (entry): entry is [string, StringRule] => entry[1].type === 'string',
);

/** A value the catalog accepts for a string rule: any code point, control characters often, up to its length. */
const validValue = (rule: StringRule) =>
  rule.oneOf !== null
    ? fc.constantFrom(...rule.oneOf)
    : fc.oneof(
        fc.string({ unit: 'binary', maxLength: rule.maxLength }),
        fc.constantFrom('\u0001', '"', '😀', 'é').map((unit) => unit.repeat(rule.maxLength)),
      );

/** A group as a view may have one: up to MAX_GROUP_FIELDS string fields, each a valid value or null. */
const group = fc
  .shuffledSubarray(stringFields, { minLength: 1, maxLength: MAX_GROUP_FIELDS })
  .chain((fields) =>
    fc.tuple(
      fc.constant(fields.map(([, rule]) => rule.maxLength)),
      fc.tuple(...fields.map(([, rule]) => fc.option(validValue(rule), { nil: null }))),
    ),
  );

describe('keys built from valid events fit AWS limits', () => {
  it('makes a row sort key of any valid group within the worst case the catalog checks', () => {
    fc.assert(
      fc.property(
        group,
        fc.integer({ min: 0, max: DEFAULT_TIME_RANGE.to - 1 }),
        ([lengths, values], bucket) => {
          // Act
          const bytes = Buffer.byteLength(rowSortKey(bucket, values), 'utf8');
          // Assess
          expect(bytes).toBeLessThanOrEqual(worstRowSortKeyBytes(lengths));
          expect(worstRowSortKeyBytes(lengths)).toBeLessThanOrEqual(ROW_SORT_KEY_BUDGET_BYTES);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('reaches the worst case with control characters in the longest fields, under 1,024 bytes', () => {
    // Prepare
    const longest = stringFields
      .map(([, rule]) => rule.maxLength)
      .sort((a, b) => b - a)
      .slice(0, MAX_GROUP_FIELDS);
    // Act
    const sk = rowSortKey(
      DEFAULT_TIME_RANGE.to - 1,
      longest.map((length) => '\u0001'.repeat(length)),
    );
    // Assess
    expect(Buffer.byteLength(sk, 'utf8')).toBe(worstRowSortKeyBytes(longest));
    expect(Buffer.byteLength(sk, 'utf8')).toBeLessThan(DYNAMODB_SORT_KEY_MAX_BYTES);
  });

  it('keeps any valid id within a Kinesis partition key, counted in UTF-16 units', () => {
    const id = orderEvents.rules[orderEvents.idField] as StringRule;
    fc.assert(
      fc.property(validValue(id), (value) => {
        fc.pre(orderEvents.accepts({ id: value, ts: DEFAULT_TIME_RANGE.from, amount: 1, status: 'paid' }));
        expect(value.length).toBeGreaterThanOrEqual(1);
        expect(value.length).toBeLessThanOrEqual(KINESIS_PARTITION_KEY_MAX_UNITS);
      }),
    );
  });

  it('builds speed item keys for the last time the catalog accepts', () => {
    // Act
    const key = speedItemKey({ name: 'revenue', version: 1 }, DEFAULT_TIME_RANGE.to - 1, ['US']);
    // Assess
    expect(key.pk).toBe('speed#revenue#v1#2099-12-31');
  });
});

describe('dayOf', () => {
  it('names the last day with a four-digit year', () => {
    expect(dayOf(MAX_DAY_TIME - 1)).toBe('9999-12-31');
  });

  it.each([MAX_DAY_TIME, 9e15, -1, 1.5])('refuses %d rather than name a wrong day', (ts) => {
    expect(() => dayOf(ts)).toThrow(RangeError);
  });
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const inRange = (range: SortKeyRange, key: { pk: string; sk: string }) =>
  key.pk === range.pk && key.sk >= range.from && key.sk <= range.to;

describe('table keys whose sort order carries meaning', () => {
  it('orders the packed chunks of a day as they were written', () => {
    fc.assert(
      fc.property(fc.nat({ max: 99_999 }), fc.nat({ max: 99_999 }), (a, b) => {
        // Act
        const [first, second] = [rowsChunkKey(a), rowsChunkKey(b)];
        // Assess
        expect(first < second).toBe(a < b);
        expect(first).toHaveLength('rows#'.length + 5);
      }),
    );
  });

  it.each([100_000, -1, 1.5])('refuses chunk %d rather than write a key that sorts out of order', (chunk) => {
    expect(() => rowsChunkKey(chunk)).toThrow(RangeError);
  });

  it('orders archive changes by the hour they were marked, whatever their event day', () => {
    const time = fc.integer({ min: 0, max: DEFAULT_TIME_RANGE.to });
    fc.assert(
      fc.property(time, time, fc.constantFrom('2000-01-01', '2099-12-31'), (a, b, day) => {
        // Act
        const [first, second] = [
          archiveChangeKey('order', a, day),
          archiveChangeKey('order', b, '2050-06-15'),
        ];
        // Assess
        if (Math.floor(a / HOUR) < Math.floor(b / HOUR)) expect(first.sk < second.sk).toBe(true);
        if (Math.floor(a / HOUR) > Math.floor(b / HOUR)) expect(first.sk > second.sk).toBe(true);
      }),
    );
  });

  it('reads every change marked at or after a time, and none marked before its hour', () => {
    const time = fc.integer({ min: 0, max: DEFAULT_TIME_RANGE.to });
    fc.assert(
      fc.property(time, time, (since, markedAt) => {
        // Act
        const read = inRange(
          archiveChangesSince('order', since),
          archiveChangeKey('order', markedAt, '2026-11-25'),
        );
        // Assess
        if (markedAt >= since) expect(read).toBe(true);
        if (markedAt < since - (since % HOUR)) expect(read).toBe(false);
      }),
    );
  });

  it('reads the archive days after one day and through another, both ends as named', () => {
    // Prepare
    const days = Array.from({ length: 5 }, (_, index) => dayOf(Date.UTC(2026, 10, 28) + index * DAY));
    const range = archiveDaysRange('order', '2026-11-29', '2026-12-01') as SortKeyRange;
    // Act
    const read = days.filter((day) => inRange(range, archiveDayKey('order', day)));
    // Assess
    expect(read).toEqual(['2026-11-30', '2026-12-01']);
    expect(
      days.filter((day) =>
        inRange(archiveDaysRange('order', '', '2026-11-29') as SortKeyRange, archiveDayKey('order', day)),
      ),
    ).toEqual(['2026-11-28', '2026-11-29']);
    expect(archiveDaysRange('order', '2026-12-01', '2026-12-01')).toBeNull();
  });

  it("keeps each catalog's archive days and changes apart: a view reads its catalog's only", () => {
    // Prepare
    const day = '2026-11-25';
    const markedAt = Date.UTC(2026, 10, 25, 12);
    // Act
    const orderDays = archiveDaysRange('order', '', '9999-12-31') as SortKeyRange;
    const orderChanges = archiveChangesSince('order', markedAt);
    // Assess
    expect(inRange(orderDays, archiveDayKey('order', day))).toBe(true);
    expect(inRange(orderDays, archiveDayKey('page_view', day))).toBe(false);
    expect(inRange(orderChanges, archiveChangeKey('order', markedAt, day))).toBe(true);
    expect(inRange(orderChanges, archiveChangeKey('page_view', markedAt, day))).toBe(false);
  });
});
