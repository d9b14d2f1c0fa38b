import type { EventCatalog, FieldSpecs, IntegerFieldSpec, TypedEventCatalog } from './catalog';
import { ViewDefinitionError } from './errors';
import { type BoolExpr, type Expr, type ExprType, IntExpr, StrExpr } from './expr';
import type { BucketWidth } from './keys';
import { DEFAULT_DISTINCT_PRECISION, MAX_DISTINCT_PRECISION, MIN_DISTINCT_PRECISION } from './sketch';

export type MeasureKind = 'count' | 'sum' | 'min' | 'max' | 'countDistinct';

export type Measure =
  | { readonly kind: 'count' }
  | { readonly kind: 'sum' | 'min' | 'max' | 'countDistinct'; readonly expr: Expr };

export const count = (): Measure => ({ kind: 'count' });
/** Sum of the non-null values; null when there are none (as in SQL). */
export const sum = (expr: IntExpr): Measure => ({ kind: 'sum', expr: expr.node });
export const min = (expr: IntExpr): Measure => ({ kind: 'min', expr: expr.node });
export const max = (expr: IntExpr): Measure => ({ kind: 'max', expr: expr.node });
/**
 * How many distinct non-null values (as SQL's COUNT(DISTINCT)): exact in the batch layer, a HyperLogLog
 * estimate in the speed layer (the view's `distinctPrecision`). Distinct counts of two buckets do not
 * add: a view with one is served at its own bucket only.
 */
export const countDistinct = (expr: IntExpr | StrExpr): Measure => ({
  kind: 'countDistinct',
  expr: expr.node,
});

/** The names of the view's distinct measures, in definition order. */
export const distinctMeasureNames = (view: Pick<ViewDefinition, 'measures'>): string[] =>
  Object.entries(view.measures).flatMap(([name, measure]) =>
    measure.kind === 'countDistinct' ? [name] : [],
  );

/** Whether a view has a distinct measure: its buckets do not roll up, and its speed values are estimates. */
export const hasDistinctMeasure = (view: ViewDefinition): boolean => distinctMeasureNames(view).length > 0;

/** A view: which events count, into which time buckets and groups, measured how. */
export interface ViewDefinition {
  readonly name: string;
  /** Bump when the definition changes: a new version is recomputed over all history. */
  readonly version: number;
  readonly events: EventCatalog;
  readonly where: Expr | null;
  readonly time: { readonly field: string; readonly bucket: BucketWidth };
  readonly groupBy: readonly string[];
  readonly measures: Readonly<Record<string, Measure>>;
  /** HyperLogLog precision of the speed layer's distinct measures: 2^p registers (see `sketch.ts`). */
  readonly distinctPrecision: number;
}

type FieldExprs<F extends FieldSpecs> = {
  readonly [K in keyof F]: F[K] extends IntegerFieldSpec ? IntExpr : StrExpr;
};

type StringFieldOf<F extends FieldSpecs> = {
  [K in keyof F]: F[K] extends IntegerFieldSpec ? never : K;
}[keyof F] &
  string;

/** Typed references to an event catalog's fields, for writing views. */
export function fieldsOf<F extends FieldSpecs>(catalog: TypedEventCatalog<F>): FieldExprs<F> {
  return Object.fromEntries(
    Object.entries(catalog.fields).map(([name, spec]) => {
      const node: Expr = { kind: 'field', name };
      return [name, spec.type === 'integer' ? new IntExpr(node) : new StrExpr(node)];
    }),
  ) as FieldExprs<F>;
}

// Names become SQL identifiers and object keys: no leading '__' (`__proto__`).
const IDENTIFIER = /^(?!__)[a-z_][a-z0-9_]*$/;
const RESERVED_COLUMNS = new Set(['bucket']);
export const MAX_GROUP_FIELDS = 4;
/**
 * Distinct measures per view. Each keeps a sketch per speed item and lists its rows in reconcile's drift
 * report (one DynamoDB item). 4 at the highest precision are 4 * 2^16 one-byte registers, 256 KiB: their
 * deflated sketches are at most about this (deflate adds a few bytes per 16 KB block), well under
 * DynamoDB's 400 KB item limit with the counters and keys beside them.
 */
export const MAX_DISTINCT_MEASURES = 4;

export function defineView<F extends FieldSpecs>(
  catalog: TypedEventCatalog<F>,
  definition: {
    name: string;
    version: number;
    where?: BoolExpr;
    bucket: BucketWidth;
    groupBy?: readonly StringFieldOf<F>[];
    measures: Readonly<Record<string, Measure>>;
    /** @default DEFAULT_DISTINCT_PRECISION */
    distinctPrecision?: number;
  },
): ViewDefinition {
  const view: ViewDefinition = {
    name: definition.name,
    version: definition.version,
    events: catalog,
    where: definition.where?.node ?? null,
    time: { field: catalog.timeField, bucket: definition.bucket },
    groupBy: [...(definition.groupBy ?? [])],
    measures: { ...definition.measures },
    distinctPrecision: definition.distinctPrecision ?? DEFAULT_DISTINCT_PRECISION,
  };
  validateView(view);
  return Object.freeze(view);
}

/** Checks names and expression types; views built from JSON or by hand go through this too. */
export function validateView(view: ViewDefinition): void {
  const fail = (path: string, message: string): never => {
    throw new ViewDefinitionError(view.name, path, message);
  };
  if (!IDENTIFIER.test(view.name)) fail('name', 'must match [a-z_][a-z0-9_]* without a leading __');
  if (!Number.isSafeInteger(view.version) || view.version < 1) fail('version', 'must be a positive integer');
  if (view.time.field !== view.events.timeField) {
    fail('time.field', `must be the catalog's time field ${view.events.timeField}`);
  }
  if (!['minute', 'hour', 'day'].includes(view.time.bucket))
    fail('time.bucket', 'must be minute, hour or day');
  if (view.where !== null) {
    const type = typeOfExpr(view.events, view.where, fail, 'where');
    if (type !== 'boolean') fail('where', `must be a boolean expression, not ${type}`);
  }
  if (view.groupBy.length > MAX_GROUP_FIELDS) fail('groupBy', `at most ${MAX_GROUP_FIELDS} fields`);
  const columns = new Set(RESERVED_COLUMNS);
  for (const [index, field] of view.groupBy.entries()) {
    const spec = view.events.fields[field];
    if (spec?.type !== 'string')
      fail(`groupBy.${index}`, `${field} is not a string field of ${view.events.name}`);
    if (columns.has(field)) fail(`groupBy.${index}`, `${field} is repeated`);
    columns.add(field);
  }
  const measures = Object.entries(view.measures);
  if (measures.length === 0) fail('measures', 'at least one measure is required');
  for (const [name, measure] of measures) {
    const path = `measures.${name}`;
    if (!IDENTIFIER.test(name)) fail(path, 'name must match [a-z_][a-z0-9_]* without a leading __');
    if (columns.has(name)) fail(path, 'name clashes with the bucket or a group field');
    columns.add(name);
    if (measure.kind === 'count') continue;
    if (!['sum', 'min', 'max', 'countDistinct'].includes(measure.kind))
      fail(path, `unknown measure kind ${measure.kind}`);
    const type = typeOfExpr(view.events, measure.expr, fail, `${path}.expr`);
    if (measure.kind === 'countDistinct') {
      if (type === 'boolean') fail(path, 'countDistinct needs an integer or string expression, not boolean');
    } else if (type !== 'integer') fail(path, `${measure.kind} needs an integer expression, not ${type}`);
  }
  const precision = view.distinctPrecision;
  if (
    !Number.isSafeInteger(precision) ||
    precision < MIN_DISTINCT_PRECISION ||
    precision > MAX_DISTINCT_PRECISION
  )
    fail(
      'distinctPrecision',
      `must be an integer from ${MIN_DISTINCT_PRECISION} to ${MAX_DISTINCT_PRECISION}`,
    );
  const distinct = distinctMeasureNames(view);
  if (distinct.length > MAX_DISTINCT_MEASURES)
    fail(
      'measures',
      `at most ${MAX_DISTINCT_MEASURES} countDistinct measures, not ${distinct.length} (${distinct.join(', ')}): ` +
        'each keeps a sketch in every speed item and rows in the drift report; split them over views',
    );
}

/** The type of an expression over a catalog's fields; `fail` reports the first ill-typed node. */
export function typeOfExpr(
  catalog: EventCatalog,
  expr: Expr,
  fail: (path: string, message: string) => never,
  path = 'expr',
): ExprType {
  const typeOf = (node: Expr, at: string): ExprType => typeOfExpr(catalog, node, fail, at);
  const expect = (node: Expr, at: string, type: ExprType): void => {
    const actual = typeOf(node, at);
    if (actual !== type) fail(at, `expected ${type}, found ${actual}`);
  };
  const sameScalar = (nodes: readonly Expr[], at: string): ExprType => {
    const [first, ...rest] = nodes;
    if (first === undefined) return fail(at, 'needs at least one argument');
    const type = typeOf(first, `${at}.0`);
    if (type === 'boolean') fail(`${at}.0`, 'must be an integer or a string');
    rest.forEach((node, index) => {
      expect(node, `${at}.${index + 1}`, type);
    });
    return type;
  };
  switch (expr.kind) {
    case 'field': {
      const spec = catalog.fields[expr.name];
      if (spec === undefined) return fail(path, `unknown field ${expr.name}`);
      return spec.type;
    }
    case 'integer':
      if (!Number.isSafeInteger(expr.value)) fail(path, `${expr.value} is not a safe integer`);
      return 'integer';
    case 'string':
      return 'string';
    case 'arith':
      expect(expr.left, `${path}.left`, 'integer');
      expect(expr.right, `${path}.right`, 'integer');
      return 'integer';
    case 'compare': {
      const left = typeOf(expr.left, `${path}.left`);
      if (left === 'boolean') fail(`${path}.left`, 'cannot compare booleans');
      if (left === 'string' && expr.op !== '=' && expr.op !== '<>')
        fail(path, 'strings compare only with = and <>');
      expect(expr.right, `${path}.right`, left);
      return 'boolean';
    }
    case 'and':
    case 'or':
      if (expr.args.length === 0) fail(path, `${expr.kind} needs at least one argument`);
      expr.args.forEach((arg, index) => {
        expect(arg, `${path}.${index}`, 'boolean');
      });
      return 'boolean';
    case 'not':
      expect(expr.arg, `${path}.arg`, 'boolean');
      return 'boolean';
    case 'in': {
      const type = typeOf(expr.arg, `${path}.arg`);
      if (type === 'boolean') fail(`${path}.arg`, 'must be an integer or a string');
      if (expr.values.length === 0) fail(`${path}.values`, 'needs at least one value');
      expr.values.forEach((value, index) => {
        if (value.kind !== 'integer' && value.kind !== 'string')
          fail(`${path}.values.${index}`, 'must be a literal');
        expect(value, `${path}.values.${index}`, type);
      });
      return 'boolean';
    }
    case 'isNull':
      typeOf(expr.arg, `${path}.arg`);
      return 'boolean';
    case 'coalesce':
      return sameScalar(expr.args, `${path}.args`);
    case 'case': {
      expr.whens.forEach((branch, index) => {
        expect(branch.when, `${path}.whens.${index}.when`, 'boolean');
      });
      const results = [...expr.whens.map((branch) => branch.value), ...(expr.else ? [expr.else] : [])];
      return sameScalar(results, `${path}.whens`);
    }
    default:
      return fail(path, `unknown expression kind ${(expr as { kind: string }).kind}`);
  }
}
