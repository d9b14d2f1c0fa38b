import fc from 'fast-check';
import { catalogs as demoCatalogs, orderEvents, pageViewEvents } from '../../events';
import {
  type BucketWidth,
  type DayRange,
  dayOf,
  defineEventCatalog,
  defineEventCatalogs,
  type EventCatalog,
  type Expr,
  type FieldSpecs,
  MAX_EVENT_INTEGER,
  type Measure,
  type TypedEventCatalog,
  type ViewDefinition,
  validateView,
} from '../../functions/core';
import { consecutiveDayRanges } from '../../functions/core/days';
import type { IntegerLiteral } from '../../functions/core/expr';

/**
 * Midnight UTC; generated events fall within two days from here, but for some at the catalog's time
 * bounds and for re-sent copies up to five days later or two earlier.
 */
export const DAY_ZERO = Date.UTC(2026, 10, 25);
const DAY_MS = 86_400_000;
const SPAN_MS = 2 * DAY_MS;

/** The dedupe horizons generated: none, the default, and longer ones. */
export const HORIZONS = [0, 1, 2, 3] as const;

/** A catalog with another dedupe horizon: same name, fields and bounds, so the same archive and table. */
const withHorizon = <F extends FieldSpecs>(base: TypedEventCatalog<F>) => {
  const catalogs = new Map<number, TypedEventCatalog<F>>();
  return (horizonDays: number): TypedEventCatalog<F> => {
    let catalog = catalogs.get(horizonDays);
    if (catalog === undefined) {
      catalog =
        horizonDays === base.dedupeHorizonDays
          ? base
          : defineEventCatalog({
              name: base.name,
              idField: base.idField,
              timeField: base.timeField,
              timeRange: base.timeRange,
              fields: base.fields,
              dedupeHorizonDays: horizonDays,
            });
      catalogs.set(horizonDays, catalog);
    }
    return catalog;
  };
};

/** The order catalog with another dedupe horizon. */
export const orderEventsWithHorizon = withHorizon(orderEvents);
/** The page-view catalog with another dedupe horizon. */
export const pageViewEventsWithHorizon = withHorizon(pageViewEvents);

/**
 * A test-only third catalog whose fields every order and page view has (with the same rules): each of
 * those would be a valid visit, so a view over visits sees any event of another catalog that leaks into
 * it. The demo's two catalogs cannot show a leak: each one's required fields drop the other's events.
 */
export const visitEvents = defineEventCatalog({
  name: 'visit',
  idField: 'id',
  timeField: 'ts',
  fields: {
    id: { type: 'string', required: true, nonEmpty: true, maxLength: 64 },
    ts: { type: 'integer', required: true, min: 0 },
    country: { type: 'string', required: false, maxLength: 16 },
  },
});

/** The visit catalog with another dedupe horizon. */
export const visitEventsWithHorizon = withHorizon(visitEvents);

/** The catalogs the differential test's stack has: the demo's and visits. */
export const DIFFERENTIAL_CATALOGS = defineEventCatalogs([...demoCatalogs.all, visitEvents]);

export const arbHorizon = fc.constantFrom(...HORIZONS);

/**
 * The days a run recomputes: every day (undefined), or a random subset, as ranges (as a plan gives
 * them), of the days generated events fall on: around DAY_ZERO, and the catalog's first and last.
 */
export const arbComputedDays: fc.Arbitrary<DayRange[] | undefined> = fc.option(
  fc
    .subarray(
      [
        dayOf(orderEvents.timeRange.from),
        ...Array.from({ length: 10 }, (_, index) => dayOf(DAY_ZERO + (index - 3) * DAY_MS)),
        dayOf(orderEvents.timeRange.to - 1),
      ],
      { minLength: 1 },
    )
    .map((days) => consecutiveDayRanges(days)),
  { nil: undefined, freq: 2 },
);

/**
 * How far a re-sent copy's time lies from the first send's: the same time, the same day (or across
 * midnight), a day or more apart in either direction, and further than any generated horizon.
 */
const copyDelay = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 0, 1, 60_000) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(DAY_MS, DAY_MS + 3_600_000, -DAY_MS, 2 * DAY_MS, 3 * DAY_MS - 1, -2 * DAY_MS),
  },
  { weight: 1, arbitrary: fc.constantFrom(4 * DAY_MS, 5 * DAY_MS) },
);

/** The catalog's bounds, which events are generated just inside and just outside of. */
export const TIME_RANGE = orderEvents.timeRange;
/** A string field's maximum length: an order's, else a page view's (the fields both have agree). */
export const maxLengthOf = (field: string): number => {
  const rule = orderEvents.rules[field] ?? pageViewEvents.rules[field];
  if (rule?.type !== 'string') throw new Error(`${field} is not a string field`);
  return rule.maxLength;
};
/** A string of `length` characters (code points) mixing 1-, 2- and 4-byte ones, some two UTF-16 units long. */
const stringOfLength = (length: number) =>
  fc
    .array(fc.constantFrom('a', 'é', '€', '😀'), { minLength: length, maxLength: length })
    .map((characters) => characters.join(''));
/** A value at its field's maximum length, or one character past it. */
export const atMaxLength = (field: string) => stringOfLength(maxLengthOf(field));
export const pastMaxLength = (field: string) => stringOfLength(maxLengthOf(field) + 1);
/** Valid JSON text, not valid Unicode: no archive reader reads it (DuckDB fails on the whole file). */
export const LONE_SURROGATE = 'x\ud800y';

/** What the view arbitraries draw on of a catalog: its fields by type, and those a view may group by. */
interface CatalogShape {
  readonly catalog: (horizonDays: number) => EventCatalog;
  readonly integerFields: readonly string[];
  readonly stringFields: readonly string[];
  readonly groupFields: readonly string[];
}

/** A catalog's shape: its fields by type as the catalog declares them; the group fields chosen by hand. */
const shapeOf = (
  base: EventCatalog,
  catalog: (horizonDays: number) => EventCatalog,
  groupFields: readonly string[],
): CatalogShape => {
  const fieldsOfType = (type: 'integer' | 'string') =>
    Object.entries(base.fields)
      .filter(([, spec]) => spec.type === type)
      .map(([name]) => name);
  return {
    catalog,
    integerFields: fieldsOfType('integer'),
    stringFields: fieldsOfType('string'),
    groupFields,
  };
};

const ORDERS = shapeOf(orderEvents, orderEventsWithHorizon, ['country', 'status', 'product', 'customer']);
const PAGE_VIEWS = shapeOf(pageViewEvents, pageViewEventsWithHorizon, ['country', 'path', 'session']);
const VISITS = shapeOf(visitEvents, visitEventsWithHorizon, ['country']);
/** Strings that trip up quoting and key encoding: quotes, the text "null", empty, non-ASCII. */
const STRINGS = ['US', 'FR', 'DE', 'null', '', "o'brien", 'a"b', 'ünï', '日本', 'paid', '\\'];
const HUGE = fc.integer({ min: 2 ** 50, max: MAX_EVENT_INTEGER });

const eventTime = fc.oneof(
  // exactly on minute, hour and day boundaries, and one millisecond either side
  fc
    .tuple(fc.constantFrom(60_000, 3_600_000, 86_400_000), fc.nat(48), fc.constantFrom(-1, 0, 0, 1))
    .map(([width, index, offset]) => Math.max(0, DAY_ZERO + ((index * width) % SPAN_MS) + offset)),
  fc.integer({ min: DAY_ZERO, max: DAY_ZERO + SPAN_MS - 1 }),
  // the first and last milliseconds the catalog accepts
  fc.constantFrom(TIME_RANGE.from, TIME_RANGE.to - 1),
);

const amount = fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.constant(0), HUGE);
/** undefined stands for a field missing from the JSON event. */
const optional = <T>(value: fc.Arbitrary<T>) =>
  fc.oneof(value, fc.constant(null), fc.constant(undefined as T | null | undefined));

/** The event as JSON carries it: a field the arbitrary left undefined is missing. */
const dropUndefined = (event: RawEvent): RawEvent => {
  for (const [key, value] of Object.entries(event)) if (value === undefined) delete event[key];
  return event;
};

/** Mostly the given values (so groups collide), sometimes one at the field's maximum length. */
const stringField = (field: string, values: readonly string[]) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...values) },
    { weight: 1, arbitrary: atMaxLength(field) },
  );

const validOrder = fc.record({
  ts: eventTime,
  customer: optional(stringField('customer', ['c1', 'c2', 'c3', ...STRINGS])),
  country: optional(stringField('country', STRINGS)),
  product: optional(stringField('product', ['book', 'pen', 'null', ''])),
  amount,
  discount: optional(fc.oneof(fc.integer({ min: 0, max: 500 }), HUGE)),
  status: fc.constantFrom('paid', 'refunded', 'pending'),
});

/** One rule of the catalog broken: such events are quarantined by the speed layer. */
const breakage = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom<Record<string, unknown>>(
      { status: 'shipped' },
      { status: null },
      { amount: -1 },
      { amount: MAX_EVENT_INTEGER + 3 },
      { amount: null },
      { discount: -7 },
      { id: '' },
      { id: null },
      { ts: -60_000 },
    ),
  },
  // just outside the catalog's bounds
  {
    weight: 1,
    arbitrary: fc.constantFrom<Record<string, unknown>>({ ts: TIME_RANGE.from - 1 }, { ts: TIME_RANGE.to }),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('id', 'customer', 'country', 'product')
      .chain((field) => pastMaxLength(field).map((value): Record<string, unknown> => ({ [field]: value }))),
  },
);

export type RawEvent = Record<string, unknown>;

/**
 * Order events as they arrive (each with `type: 'order'`): optional fields missing or null, huge amounts, times on bucket
 * boundaries, producer duplicates (copies, some re-sent with another time: the same day, the days
 * either side, or further apart than any horizon) and invalid records; times and strings just inside
 * and just outside the catalog's bounds.
 */
export const arbOrderEvents = (
  options: {
    maxLength?: number;
    invalid?: boolean;
    duplicates?: boolean;
    /** Also strings that are not well-formed Unicode: only where no archive file is written from them. */
    illFormed?: boolean;
  } = {},
) =>
  fc
    .array(
      fc.record({
        order: validOrder,
        // Sometimes an id padded to its maximum length (the index keeps it unique).
        longId: fc.option(atMaxLength('id'), { nil: null, freq: 10 }),
        broken:
          options.invalid === false
            ? fc.constant(null)
            : fc.oneof(
                { weight: 9, arbitrary: fc.constant(null) },
                {
                  weight: 1,
                  arbitrary: options.illFormed
                    ? fc.oneof(
                        { weight: 5, arbitrary: breakage },
                        {
                          weight: 1,
                          arbitrary: fc.constantFrom(
                            { country: LONE_SURROGATE },
                            { customer: LONE_SURROGATE },
                          ),
                        },
                      )
                    : breakage,
                },
              ),
        copies:
          options.duplicates === false
            ? fc.constant([])
            : fc.array(
                fc.record({
                  delay: copyDelay,
                  // A copy that differs in content at the same time: the tie-break decides which is kept.
                  change: fc.option(
                    fc.record(
                      { country: fc.option(fc.constantFrom(...STRINGS), { nil: null }), amount },
                      { requiredKeys: [] },
                    ),
                    { nil: null, freq: 2 },
                  ),
                }),
                { maxLength: 2 },
              ),
      }),
      { maxLength: options.maxLength ?? 40 },
    )
    .chain((drafts) => {
      const events: RawEvent[] = [];
      drafts.forEach(({ order, broken, copies, longId }, index) => {
        const prefix = `o${index}`;
        // Padded by code points to the id's maximum length; the prefix keeps it unique.
        const id =
          longId === null
            ? prefix
            : prefix + [...longId].slice(0, maxLengthOf('id') - prefix.length).join('');
        const event = dropUndefined({ type: orderEvents.name, id, ...order, ...broken });
        events.push(event);
        // A re-sent copy keeps its id; the dedupe rule (functions/core/dedupe.ts) decides which copies count.
        for (const { delay, change } of copies)
          events.push({ ...event, ...change, ts: (event.ts as number) + delay });
      });
      return fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length });
    });

const validPageView = fc.record({
  ts: eventTime,
  session: optional(stringField('session', ['s1', 's2', ...STRINGS])),
  path: fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom('/', '/docs', '/pricing', 'null', "o'brien", '日本') },
    { weight: 1, arbitrary: atMaxLength('path') },
  ),
  country: optional(stringField('country', STRINGS)),
});

/** One rule of the page-view catalog broken. */
const pageViewBreakage = fc.oneof(
  fc.constantFrom<Record<string, unknown>>(
    { path: '' },
    { path: null },
    { id: '' },
    { ts: TIME_RANGE.from - 1 },
    { ts: TIME_RANGE.to },
  ),
  fc
    .constantFrom('path', 'session', 'country')
    .chain((field) => pastMaxLength(field).map((value): Record<string, unknown> => ({ [field]: value }))),
);

/**
 * A catalog's events as they arrive (`type` its name): valid ones with one rule broken now and then, some
 * sent again (later, or at once). Each takes the id `shared` draws, else its own (`idPrefix` and index).
 */
const arbEventsOf = (
  catalog: EventCatalog,
  generator: {
    readonly valid: fc.Arbitrary<RawEvent>;
    readonly breakage: fc.Arbitrary<RawEvent>;
    readonly idPrefix: string;
    readonly shared?: fc.Arbitrary<string | null>;
  },
  options: { maxLength?: number },
) =>
  fc
    .array(
      fc.record({
        valid: generator.valid,
        shared: generator.shared ?? fc.constant(null),
        broken: fc.option(generator.breakage, { nil: null, freq: 10 }),
        copies: fc.array(copyDelay, { maxLength: 1 }),
      }),
      { maxLength: options.maxLength ?? 20 },
    )
    .map((drafts) =>
      drafts.flatMap(({ valid, shared, broken, copies }, index) => {
        const id = shared ?? `${generator.idPrefix}${index}`;
        const event = dropUndefined({ type: catalog.name, id, ...valid, ...broken });
        return [event, ...copies.map((delay) => ({ ...event, ts: (event.ts as number) + delay }))];
      }),
    );

/** Page views as they arrive (`type: 'page_view'`): some invalid, some sent again (later, or at once). */
export const arbPageViews = (options: { maxLength?: number } = {}) =>
  arbEventsOf(pageViewEvents, { valid: validPageView, breakage: pageViewBreakage, idPrefix: 'v' }, options);

/**
 * Half the time, an id the first orders or page views hold too (so an SQL that deduplicates across
 * catalogs, or counts another's events, gets other rows); null for one of its own.
 */
const sharedId = fc.option(
  fc.oneof(
    { weight: 2, arbitrary: fc.nat(9).map((n) => `o${n}`) },
    { weight: 1, arbitrary: fc.nat(9).map((n) => `v${n}`) },
  ),
  { nil: null, freq: 2 },
);

const validVisit = fc.record({
  ts: eventTime,
  country: optional(stringField('country', STRINGS)),
});

/** One rule of the visit catalog broken. */
const visitBreakage = fc.oneof(
  fc.constantFrom<Record<string, unknown>>(
    { id: '' },
    { id: null },
    { ts: TIME_RANGE.from - 1 },
    { ts: TIME_RANGE.to },
  ),
  pastMaxLength('country').map((country): Record<string, unknown> => ({ country })),
);

/**
 * Visits as they arrive (`type: 'visit'`), many with an order's or a page view's id: some invalid, some
 * sent again.
 */
export const arbVisits = (options: { maxLength?: number } = {}) =>
  arbEventsOf(
    visitEvents,
    { valid: validVisit, breakage: visitBreakage, idPrefix: 'w', shared: sharedId },
    options,
  );

/**
 * Events of no catalog or of the wrong one, as a careless producer sends them: an unknown type, none, one
 * that is not a string, and an order typed as a page view. The speed layer quarantines them, the archive
 * drops them (the mistyped order is filed as a page view, which its catalog refuses).
 */
const arbStrayEvents = fc.array(
  fc
    .tuple(
      validOrder,
      fc.constantFrom<unknown>('refund', 'Order', '', 7, null, undefined, pageViewEvents.name),
      fc.nat(99),
    )
    .map(([order, type, n]) => dropUndefined({ type, id: `x${n}`, ...order })),
  { maxLength: 4 },
);

/**
 * One stream of the three catalogs' events mixed (`DIFFERENTIAL_CATALOGS`), ids shared across them, with
 * strays of no catalog: what a stack with several catalogs receives. Each view must count its own
 * catalog's events only.
 */
export const arbMixedEvents = (options: { illFormed?: boolean } = {}) =>
  fc
    .tuple(
      arbOrderEvents({ illFormed: options.illFormed ?? false }),
      arbPageViews(),
      arbVisits(),
      arbStrayEvents,
    )
    .chain(([orders, pageViews, visits, strays]) => {
      const events = [...orders, ...pageViews, ...visits, ...strays];
      return fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length });
    });

const intLiteral = (range: number): fc.Arbitrary<IntegerLiteral> =>
  fc.integer({ min: -range, max: range }).map((value) => ({ kind: 'integer', value }));

/** Type-correct expressions over a catalog's fields. */
const exprsOver = (shape: CatalogShape) =>
  fc.letrec<{ intExpr: Expr; strExpr: Expr; boolExpr: Expr }>((tie) => ({
    intExpr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...shape.integerFields).map((name): Expr => ({ kind: 'field', name })),
      intLiteral(1_000),
      fc
        .tuple(fc.constantFrom('+', '-') as fc.Arbitrary<'+' | '-'>, tie('intExpr'), tie('intExpr'))
        .map(([op, left, right]): Expr => ({ kind: 'arith', op, left, right })),
      fc
        .tuple(tie('intExpr'), intLiteral(8))
        .map(([left, right]): Expr => ({ kind: 'arith', op: '*', left, right })),
      fc
        .array(tie('intExpr'), { minLength: 1, maxLength: 3 })
        .map((args): Expr => ({ kind: 'coalesce', args })),
      fc
        .tuple(
          fc.array(fc.record({ when: tie('boolExpr'), value: tie('intExpr') }), {
            minLength: 1,
            maxLength: 3,
          }),
          fc.option(tie('intExpr'), { nil: null }),
        )
        .map(([whens, otherwise]): Expr => ({ kind: 'case', whens, else: otherwise })),
    ),
    strExpr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...shape.stringFields).map((name): Expr => ({ kind: 'field', name })),
      fc.constantFrom(...STRINGS).map((value): Expr => ({ kind: 'string', value })),
      fc
        .array(tie('strExpr'), { minLength: 1, maxLength: 3 })
        .map((args): Expr => ({ kind: 'coalesce', args })),
      fc
        .tuple(
          fc.array(fc.record({ when: tie('boolExpr'), value: tie('strExpr') }), {
            minLength: 1,
            maxLength: 3,
          }),
          fc.option(tie('strExpr'), { nil: null }),
        )
        .map(([whens, otherwise]): Expr => ({ kind: 'case', whens, else: otherwise })),
    ),
    boolExpr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc
        .tuple(
          fc.constantFrom('=', '<>', '<', '<=', '>', '>=') as fc.Arbitrary<'='>,
          tie('intExpr'),
          tie('intExpr'),
        )
        .map(([op, left, right]): Expr => ({ kind: 'compare', op, left, right })),
      fc
        .tuple(fc.constantFrom('=', '<>') as fc.Arbitrary<'='>, tie('strExpr'), tie('strExpr'))
        .map(([op, left, right]): Expr => ({ kind: 'compare', op, left, right })),
      fc
        .tuple(
          tie('strExpr'),
          fc.uniqueArray(fc.constantFrom(...STRINGS, 'paid', 'refunded'), { minLength: 1, maxLength: 3 }),
        )
        .map(
          ([arg, values]): Expr => ({
            kind: 'in',
            arg,
            values: values.map((value) => ({ kind: 'string', value })),
          }),
        ),
      fc
        .tuple(
          tie('intExpr'),
          fc.uniqueArray(fc.integer({ min: -5, max: 5_000 }), { minLength: 1, maxLength: 3 }),
        )
        .map(
          ([arg, values]): Expr => ({
            kind: 'in',
            arg,
            values: values.map((value) => ({ kind: 'integer', value })),
          }),
        ),
      fc.oneof(tie('intExpr'), tie('strExpr'), tie('boolExpr')).map((arg): Expr => ({ kind: 'isNull', arg })),
      fc.array(tie('boolExpr'), { minLength: 1, maxLength: 3 }).map((args): Expr => ({ kind: 'and', args })),
      fc.array(tie('boolExpr'), { minLength: 1, maxLength: 3 }).map((args): Expr => ({ kind: 'or', args })),
      tie('boolExpr').map((arg): Expr => ({ kind: 'not', arg })),
    ),
  }));

/** Expressions over order fields. */
export const { intExpr, boolExpr } = exprsOver(ORDERS);

/** Largest magnitude an integer expression can reach on valid events (every field within 2^53). */
export function magnitudeBound(expr: Expr): number {
  switch (expr.kind) {
    case 'field':
      return 2 ** 53;
    case 'integer':
      return Math.abs(expr.value);
    case 'arith':
      return expr.op === '*'
        ? magnitudeBound(expr.left) * magnitudeBound(expr.right)
        : magnitudeBound(expr.left) + magnitudeBound(expr.right);
    case 'coalesce':
      return Math.max(...expr.args.map(magnitudeBound));
    case 'case':
      return Math.max(
        ...[...expr.whens.map((branch) => branch.value), ...(expr.else ? [expr.else] : [])].map(
          magnitudeBound,
        ),
      );
    default:
      return 0;
  }
}

/** Expressions inside a predicate are integers too; keep every one of them far from BIGINT overflow. */
function integerSubexpressions(expr: Expr): Expr[] {
  const children: Expr[] = [];
  switch (expr.kind) {
    case 'arith':
    case 'compare':
      children.push(expr.left, expr.right);
      break;
    case 'and':
    case 'or':
    case 'coalesce':
      children.push(...expr.args);
      break;
    case 'not':
    case 'in':
    case 'isNull':
      children.push(expr.arg);
      break;
    case 'case':
      for (const branch of expr.whens) children.push(branch.when, branch.value);
      if (expr.else) children.push(expr.else);
      break;
  }
  return [expr, ...children.flatMap(integerSubexpressions)];
}

const SAFE_BOUND = 2 ** 62;
const fitsBigint = (expr: Expr): boolean =>
  integerSubexpressions(expr).every((node) => magnitudeBound(node) < SAFE_BOUND);

/** The measures of a view over a catalog, over its fields. */
const measureOver = (
  shape: CatalogShape,
  intExpr: fc.Arbitrary<Expr>,
  strExpr: fc.Arbitrary<Expr>,
): fc.Arbitrary<Measure> =>
  fc.oneof(
    fc.constant<Measure>({ kind: 'count' }),
    // Weighted as before distinct counts came: a sum over only NULLs (NULL, not 0) must stay frequent.
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom('sum', 'min', 'max') as fc.Arbitrary<'sum'>, intExpr)
        .map(([kind, expr]): Measure => ({ kind, expr })),
    },
    // Distinct counts of a field (ids repeat across copies: the dedupe must come first), an integer's too,
    // and of any expression: COUNT(DISTINCT <expr>) must agree with the reducer's set over its values.
    fc
      .constantFrom(...shape.stringFields, ...shape.integerFields)
      .map((name): Measure => ({ kind: 'countDistinct', expr: { kind: 'field', name } })),
    fc.oneof(intExpr, strExpr).map((expr): Measure => ({ kind: 'countDistinct', expr })),
  );

/**
 * Random views over a catalog's events, every expression type-correct and clear of BIGINT overflow, with a
 * random dedupe horizon.
 */
function arbViewOver(shape: CatalogShape): fc.Arbitrary<ViewDefinition> {
  const { intExpr, strExpr, boolExpr } = exprsOver(shape);
  const measure = measureOver(shape, intExpr, strExpr);
  return fc
    .record({
      horizon: arbHorizon,
      bucket: fc.constantFrom<BucketWidth>('minute', 'hour', 'day'),
      groupBy: fc.uniqueArray(fc.constantFrom(...shape.groupFields), { maxLength: 2 }),
      where: fc.option(boolExpr, { nil: null, freq: 3 }),
      measures: fc.array(measure, { minLength: 1, maxLength: 4 }),
    })
    .filter(
      ({ where, measures }) =>
        (where === null || fitsBigint(where)) &&
        measures.every((m) => m.kind === 'count' || fitsBigint(m.expr)),
    )
    .map(({ horizon, bucket, groupBy, where, measures }) => {
      const view: ViewDefinition = {
        name: 'random_view',
        version: 1,
        events: shape.catalog(horizon),
        where,
        time: { field: 'ts', bucket },
        groupBy,
        measures: Object.fromEntries(measures.map((m, index) => [`m${index}`, m])),
        distinctPrecision: 12,
      };
      validateView(view);
      return view;
    });
}

/** Random views over order events. */
export const arbView: fc.Arbitrary<ViewDefinition> = arbViewOver(ORDERS);

/**
 * Random views over any of the three catalogs (`DIFFERENTIAL_CATALOGS`), each counting its own catalog's
 * events only: mostly orders, whose amounts reach past 2^53 (the others' only integer is their time).
 */
export const arbCatalogView: fc.Arbitrary<ViewDefinition> = fc.oneof(
  { weight: 3, arbitrary: arbView },
  { weight: 1, arbitrary: arbViewOver(PAGE_VIEWS) },
  { weight: 1, arbitrary: arbViewOver(VISITS) },
);
