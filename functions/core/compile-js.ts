import { ExpressionOverflowError } from './errors';
import type { ArithOp, Expr } from './expr';
import { bucketStart, type GroupValue, groupKey, rowKey } from './keys';
import { type DistinctSet, type MeasureValue, measureMonoids } from './monoid';
import { ViewRows } from './rows';
import type { ViewDefinition } from './view';

/** A validated event: field name to JSON value; missing optional fields are null or absent. */
export type EventRecord = Readonly<Record<string, unknown>>;

/**
 * Integers while evaluating: a number while it is a safe integer, a bigint beyond. Every value is
 * kept in this normal form, so `===` compares integers of either kind, and the common case (cents
 * far below 2^53) allocates nothing.
 */
export type Int = number | bigint;
type Value = Int | string | boolean | null;
type Evaluate = (event: EventRecord) => Value;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

const normalize = (value: bigint): Int => (value >= SAFE_MIN && value <= SAFE_MAX ? Number(value) : value);

function checked(value: bigint): bigint {
  if (value < INT64_MIN || value > INT64_MAX) throw new ExpressionOverflowError(value);
  return value;
}

/** Exact `+ - *` with BIGINT's range: a result past it fails, as in Trino and DuckDB. */
function arithmetic(op: ArithOp, a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') {
    // IEEE arithmetic is exact whenever the exact result is a safe integer; rounding is monotonic,
    // so a result that is not safe was not exact either and is redone in bigint.
    const result = op === '+' ? a + b : op === '-' ? a - b : a * b;
    if (Number.isSafeInteger(result)) return result;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  return normalize(checked(op === '+' ? x + y : op === '-' ? x - y : x * y));
}

/**
 * A measure's partial value while pre-aggregating: exact, in the evaluator's normal form; for a
 * distinct measure, the set of its non-null values (null before the first).
 */
export type PartialValue = Int | null | DistinctSet;

/** One (bucket, group)'s totals (`CompiledView.totalsByKey`). */
export interface KeyTotals {
  readonly bucket: number;
  readonly group: GroupValue[];
  readonly totals: PartialValue[];
}

/** Exact sum without BIGINT's limit: measures sum as DECIMAL(38, 0). */
export function addExact(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') {
    const result = a + b;
    if (Number.isSafeInteger(result)) return result;
  }
  return normalize(BigInt(a) + BigInt(b));
}

/** Compiles an expression to a closure with SQL semantics: NULL propagates, logic is three-valued. */
export function compileExpr(view: ViewDefinition, expr: Expr): Evaluate {
  const compile = (node: Expr): Evaluate => compileExpr(view, node);
  switch (expr.kind) {
    case 'field': {
      const name = expr.name;
      if (view.events.fields[name]?.type === 'integer') {
        // Validated events hold safe integers: already in normal form.
        return (event) => (event[name] ?? null) as Int | null;
      }
      return (event) => (event[name] ?? null) as Value;
    }
    case 'integer': {
      const value = expr.value;
      return () => value;
    }
    case 'string': {
      const value = expr.value;
      return () => value;
    }
    case 'arith': {
      const left = compile(expr.left);
      const right = compile(expr.right);
      const op = expr.op;
      return (event) => {
        const a = left(event) as Int | null;
        const b = right(event) as Int | null;
        if (a === null || b === null) return null;
        return arithmetic(op, a, b);
      };
    }
    case 'compare': {
      const left = compile(expr.left);
      const right = compile(expr.right);
      const op = expr.op;
      return (event) => {
        const a = left(event);
        const b = right(event);
        if (a === null || b === null) return null;
        switch (op) {
          case '=':
            return a === b;
          case '<>':
            return a !== b;
          case '<':
            return a < b;
          case '<=':
            return a <= b;
          case '>':
            return a > b;
          case '>=':
            return a >= b;
        }
      };
    }
    case 'and': {
      const args = expr.args.map(compile);
      return (event) => {
        let unknown = false;
        for (const arg of args) {
          const value = arg(event);
          if (value === false) return false;
          if (value === null) unknown = true;
        }
        return unknown ? null : true;
      };
    }
    case 'or': {
      const args = expr.args.map(compile);
      return (event) => {
        let unknown = false;
        for (const arg of args) {
          const value = arg(event);
          if (value === true) return true;
          if (value === null) unknown = true;
        }
        return unknown ? null : false;
      };
    }
    case 'not': {
      const arg = compile(expr.arg);
      return (event) => {
        const value = arg(event);
        return value === null ? null : !value;
      };
    }
    case 'in': {
      const arg = compile(expr.arg);
      const values = new Set<Value>(expr.values.map((literal) => literal.value));
      return (event) => {
        const value = arg(event);
        return value === null ? null : values.has(value);
      };
    }
    case 'isNull': {
      const arg = compile(expr.arg);
      return (event) => arg(event) === null;
    }
    case 'coalesce': {
      const args = expr.args.map(compile);
      return (event) => {
        for (const arg of args) {
          const value = arg(event);
          if (value !== null) return value;
        }
        return null;
      };
    }
    case 'case': {
      const whens = expr.whens.map((branch) => ({
        when: compile(branch.when),
        value: compile(branch.value),
      }));
      const otherwise = expr.else === null ? () => null : compile(expr.else);
      return (event) => {
        for (const branch of whens) {
          if (branch.when(event) === true) return branch.value(event);
        }
        return otherwise(event);
      };
    }
  }
}

/** The speed layer's compilation of a view: per event, its row; over events, the pre-aggregated rows. */
const PARTIAL_MONOIDS = measureMonoids<Int>((a, b) => addExact(a, b), 0);

export interface CompiledView {
  readonly view: ViewDefinition;
  /** Measure names, in the order `accumulate` fills its totals. */
  readonly measureNames: readonly string[];
  /** Whether `where` holds (true, not false or NULL). */
  matches(event: EventRecord): boolean;
  bucketOf(event: EventRecord): number;
  groupOf(event: EventRecord): GroupValue[];
  /** A Map key equal for two events exactly when their groups are equal, built without an array when it can be. */
  groupIdOf(event: EventRecord): unknown;
  /** Fresh totals holding each measure's zero. */
  zeros(): PartialValue[];
  /**
   * Adds one matching event's measures into `totals` with the monoids: pre-aggregation without a row per
   * event. A distinct measure's set is grown in place: `totals` own their sets.
   */
  accumulate(event: EventRecord, totals: PartialValue[]): void;
  /** Totals as measure values by name. */
  valuesOf(totals: readonly PartialValue[]): Record<string, MeasureValue>;
  /** The distinct measures' sets of values by name (empty when no value was seen). */
  distinctValuesOf(totals: readonly PartialValue[]): Record<string, DistinctSet>;
  /**
   * The matching events' totals per (bucket, group), in first-seen order: a distinct measure's set is
   * exact only over all of its key's events at once.
   */
  totalsByKey(events: Iterable<EventRecord>): KeyTotals[];
  /**
   * Pre-aggregates events into rows, one per (bucket, group) with exact distinct counts, then adds them
   * into `into` when given (where a distinct count met twice refuses to add: `DistinctCountsDoNotAddError`).
   */
  reduce(events: Iterable<EventRecord>, into?: ViewRows): ViewRows;
}

export function compileJs(view: ViewDefinition): CompiledView {
  const where = view.where === null ? () => true : compileExpr(view, view.where);
  const bucket = view.time.bucket;
  const timeField = view.time.field;
  const groupFields = view.groupBy;
  const measures = Object.entries(view.measures).map(([name, measure]) => {
    if (measure.kind === 'count') {
      const monoid = PARTIAL_MONOIDS.count;
      return { name, distinct: false as const, monoid, lift: (): PartialValue => 1 };
    }
    const evaluate = compileExpr(view, measure.expr);
    if (measure.kind === 'countDistinct') return { name, distinct: true as const, lift: evaluate };
    return {
      name,
      distinct: false as const,
      monoid: PARTIAL_MONOIDS[measure.kind],
      lift: (event: EventRecord) => evaluate(event) as PartialValue,
    };
  });
  const measureValue = (value: PartialValue | undefined): MeasureValue =>
    value === null || value === undefined ? null : BigInt(value as Int);
  const compiled: CompiledView = {
    view,
    measureNames: measures.map((measure) => measure.name),
    matches: (event) => where(event) === true,
    bucketOf: (event) => bucketStart(event[timeField] as number, bucket),
    groupOf: (event) => groupFields.map((field) => (event[field] ?? null) as GroupValue),
    // Map keys tell null from "null" by themselves; only several fields need an encoding.
    groupIdOf:
      groupFields.length === 0
        ? () => ''
        : groupFields.length === 1
          ? (event) => event[groupFields[0] as string] ?? null
          : (event) => groupKey(compiled.groupOf(event)),
    // A distinct measure's zero is no set yet (`accumulate` makes one).
    zeros: () => measures.map((measure) => (measure.distinct ? null : measure.monoid.zero)),
    accumulate(event, totals) {
      for (let index = 0; index < measures.length; index++) {
        const measure = measures[index] as (typeof measures)[number];
        if (measure.distinct) {
          // The union with this event's value, without a set per event.
          const set = (totals[index] ?? new Set()) as DistinctSet;
          totals[index] = set;
          const value = measure.lift(event) as Int | string | null;
          if (value !== null) set.add(value);
          continue;
        }
        const plus = measure.monoid.plus as (a: PartialValue, b: PartialValue) => PartialValue;
        totals[index] = plus(totals[index] ?? measure.monoid.zero, measure.lift(event) as PartialValue);
      }
    },
    valuesOf(totals) {
      const values: Record<string, MeasureValue> = {};
      measures.forEach((measure, index) => {
        values[measure.name] = measure.distinct
          ? BigInt((totals[index] as DistinctSet | null)?.size ?? 0)
          : measureValue(totals[index]);
      });
      return values;
    },
    distinctValuesOf(totals) {
      const values: Record<string, DistinctSet> = {};
      measures.forEach((measure, index) => {
        if (measure.distinct) values[measure.name] = (totals[index] as DistinctSet | null) ?? new Set();
      });
      return values;
    },
    totalsByKey(events) {
      const keys = new Map<string, KeyTotals>();
      for (const event of events) {
        if (!compiled.matches(event)) continue;
        const bucket = compiled.bucketOf(event);
        const group = compiled.groupOf(event);
        const id = rowKey(bucket, group);
        let key = keys.get(id);
        if (key === undefined) {
          key = { bucket, group, totals: compiled.zeros() };
          keys.set(id, key);
        }
        compiled.accumulate(event, key.totals);
      }
      return [...keys.values()];
    },
    reduce(events, into = new ViewRows(view)) {
      for (const { bucket, group, totals } of compiled.totalsByKey(events))
        into.add({ bucket, group, values: compiled.valuesOf(totals) });
      return into;
    },
  };
  return compiled;
}

/** Compares strings by Unicode code point, as Trino and DuckDB order VARCHAR (UTF-8 bytes). */
export function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(j) as number;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}
