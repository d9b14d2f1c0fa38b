/** A view definition that cannot be compiled; `path` names the offending part (e.g. `measures.revenue`). */
export class ViewDefinitionError extends Error {
  override readonly name = 'ViewDefinitionError';
  constructor(
    readonly view: string,
    readonly path: string,
    message: string,
  ) {
    super(`view ${view}: ${path}: ${message}`);
  }
}

/**
 * An integer expression left the signed 64-bit range. Trino and DuckDB both fail a query on
 * BIGINT overflow, so the JavaScript evaluator fails too instead of silently going wider.
 */
export class ExpressionOverflowError extends Error {
  override readonly name = 'ExpressionOverflowError';
  constructor(readonly value: bigint) {
    super(`integer expression out of the BIGINT range: ${value}`);
  }
}

/** A watermark that is not a boundary of the view's buckets. */
export class WatermarkError extends Error {
  override readonly name = 'WatermarkError';
}

/** Two distinct counts added: a value counted in both would count twice (`monoid.ts`). */
export class DistinctCountsDoNotAddError extends Error {
  override readonly name = 'DistinctCountsDoNotAddError';
  constructor(a: bigint, b: bigint) {
    super(
      `cannot add the distinct counts ${a} and ${b}: a value counted in both would count twice ` +
        '(merge their values or sketches instead, or serve each bucket of a view with a distinct measure alone)',
    );
  }
}
