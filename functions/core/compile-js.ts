import { ExpressionOverflowError } from './errors';
import type { Expr } from './expr';
import { BUCKET_WIDTH_MS, type GroupValue } from './keys';
import type { MeasureValue } from './monoid';
import { type ViewRow, ViewRows } from './rows';
import type { ViewDefinition } from './view';

/** A validated event: field name to JSON value; missing optional fields are null or absent. */
export type EventRecord = Readonly<Record<string, unknown>>;

type Value = bigint | string | boolean | null;
type Evaluate = (event: EventRecord) => Value;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function checked(value: bigint): bigint {
  if (value < INT64_MIN || value > INT64_MAX) throw new ExpressionOverflowError(value);
  return value;
}

/** Compiles an expression to a closure with SQL semantics: NULL propagates, logic is three-valued. */
export function compileExpr(view: ViewDefinition, expr: Expr): Evaluate {
  const compile = (node: Expr): Evaluate => compileExpr(view, node);
  switch (expr.kind) {
    case 'field': {
      const name = expr.name;
      if (view.events.fields[name]?.type === 'integer') {
        return (event) => {
          const value = event[name];
          return value === null || value === undefined ? null : BigInt(value as number);
        };
      }
      return (event) => (event[name] ?? null) as Value;
    }
    case 'integer': {
      const value = BigInt(expr.value);
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
        const a = left(event) as bigint | null;
        const b = right(event) as bigint | null;
        if (a === null || b === null) return null;
        return checked(op === '+' ? a + b : op === '-' ? a - b : a * b);
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
      const values = new Set<Value>(
        expr.values.map((literal) => (literal.kind === 'integer' ? BigInt(literal.value) : literal.value)),
      );
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
export interface CompiledView {
  readonly view: ViewDefinition;
  /** The event's own row (one event's contribution), or null when `where` does not hold. */
  rowOf(event: EventRecord): ViewRow | null;
  /** Pre-aggregates events into rows, merging into `into` when given. */
  reduce(events: Iterable<EventRecord>, into?: ViewRows): ViewRows;
}

export function compileJs(view: ViewDefinition): CompiledView {
  const where = view.where === null ? () => true : compileExpr(view, view.where);
  const width = BUCKET_WIDTH_MS[view.time.bucket];
  const timeField = view.time.field;
  const groupFields = view.groupBy;
  const measures = Object.entries(view.measures).map(([name, measure]) => {
    if (measure.kind === 'count') return { name, lift: (): MeasureValue => 1n };
    const evaluate = compileExpr(view, measure.expr);
    return { name, lift: (event: EventRecord) => evaluate(event) as MeasureValue };
  });
  const rowOf = (event: EventRecord): ViewRow | null => {
    if (where(event) !== true) return null;
    const ts = event[timeField] as number;
    const group = groupFields.map((field) => (event[field] ?? null) as GroupValue);
    const values: Record<string, MeasureValue> = {};
    for (const measure of measures) values[measure.name] = measure.lift(event);
    return { bucket: ts - (ts % width), group, values };
  };
  return {
    view,
    rowOf,
    reduce(events, into = new ViewRows(view)) {
      for (const event of events) {
        const row = rowOf(event);
        if (row !== null) into.add(row);
      }
      return into;
    },
  };
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

/** The order that picks which copy of an id is kept: event time, then every other field, nulls last. */
export function dedupeOrderFields(catalog: ViewDefinition['events']): string[] {
  const others = Object.keys(catalog.fields).filter(
    (field) => field !== catalog.idField && field !== catalog.timeField,
  );
  return [catalog.timeField, ...others];
}

function compareEvents(fields: readonly string[], a: EventRecord, b: EventRecord): number {
  for (const field of fields) {
    const x = a[field] ?? null;
    const y = b[field] ?? null;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    const order = typeof x === 'string' ? compareCodePoints(x, y as string) : (x as number) - (y as number);
    if (order !== 0) return order;
  }
  return 0;
}

/**
 * The batch layer's rule for producer duplicates, stated in JavaScript: one event per id, the first
 * in `dedupeOrderFields` order (earliest event time, ties broken by the other fields, nulls last).
 * The SQL's `row_number()` orders by the same fields, so both keep the same copy.
 */
export function deduplicateEvents(view: ViewDefinition, events: Iterable<EventRecord>): EventRecord[] {
  const idField = view.events.idField;
  const fields = dedupeOrderFields(view.events);
  const kept = new Map<unknown, EventRecord>();
  for (const event of events) {
    const id = event[idField];
    const previous = kept.get(id);
    if (previous === undefined || compareEvents(fields, event, previous) < 0) kept.set(id, event);
  }
  return [...kept.values()];
}
