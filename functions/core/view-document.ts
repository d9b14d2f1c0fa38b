import { createHash } from 'node:crypto';
import type { EventCatalog, EventCatalogs } from './catalog';
import { ViewDefinitionError } from './errors';
import type { Expr } from './expr';
import type { BucketWidth } from './keys';
import { DEFAULT_DISTINCT_PRECISION } from './sketch';
import { hasDistinctMeasure, type Measure, type ViewDefinition, validateView } from './view';

/**
 * A view definition as data: what the table keeps of each version, so that a version the code no longer
 * holds can still be counted and served (a definition change switches over only once the new version's
 * backfill has caught up), and what its hash is taken over. The catalog is named, not copied: it is code.
 */
export interface ViewDocument {
  readonly name: string;
  readonly version: number;
  readonly catalog: string;
  readonly where: Expr | null;
  readonly time: { readonly field: string; readonly bucket: BucketWidth };
  readonly groupBy: readonly string[];
  readonly measures: Readonly<Record<string, Measure>>;
  /**
   * Kept only for a view with a distinct measure, whose speed values it shapes: the hash of any other
   * view stays what it was before the setting existed. Absent reads as the default.
   */
  readonly distinctPrecision?: number;
}

export function viewDocument(view: ViewDefinition): ViewDocument {
  return {
    name: view.name,
    version: view.version,
    catalog: view.events.name,
    where: view.where,
    time: view.time,
    groupBy: view.groupBy,
    measures: view.measures,
    ...(hasDistinctMeasure(view) ? { distinctPrecision: view.distinctPrecision } : {}),
  };
}

/**
 * The view a document describes, over the catalog of `catalogs` it names; checked as `defineView` checks a
 * view. A catalog no longer defined is an error, as a catalog whose rules no longer fit it.
 */
export function viewFromDocument(document: ViewDocument, catalogs: EventCatalogs): ViewDefinition {
  const catalog = catalogs.get(document.catalog);
  if (catalog === undefined)
    throw new ViewDefinitionError(
      document.name,
      'catalog',
      `names ${document.catalog}, which is not an event catalog: one of ${catalogs.names.join(', ')}`,
    );
  const view: ViewDefinition = {
    name: document.name,
    version: document.version,
    events: catalog,
    where: document.where,
    time: document.time,
    groupBy: [...document.groupBy],
    measures: { ...document.measures },
    distinctPrecision: document.distinctPrecision ?? DEFAULT_DISTINCT_PRECISION,
  };
  validateView(view);
  return Object.freeze(view);
}

/** JSON with every object's keys sorted: the same definition always hashes the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .flatMap((key) => {
        const field = (value as Record<string, unknown>)[key];
        return field === undefined ? [] : [`${JSON.stringify(key)}:${canonicalJson(field)}`];
      })
      .join(',')}}`;
  return JSON.stringify(value);
}

/**
 * sha256 (hex) of what a view's numbers depend on: its document and its catalog's rules (which events
 * are valid, how copies are told apart). Two versions with the same hash compute the same numbers.
 */
export function definitionHash(view: ViewDefinition): string {
  return createHash('sha256')
    .update(canonicalJson({ view: viewDocument(view), catalog: catalogRules(view.events) }))
    .digest('hex');
}

/** What a catalog decides of a view's numbers: which events are valid, how copies are told apart. */
const catalogRules = (catalog: EventCatalog) => ({
  name: catalog.name,
  idField: catalog.idField,
  timeField: catalog.timeField,
  timeRange: catalog.timeRange,
  dedupeHorizonDays: catalog.dedupeHorizonDays,
  rules: catalog.rules,
});

/**
 * Refuses a view over a catalog the stack does not define: the speed layer would quarantine its events as
 * of an unknown type and its batch query would fail on a missing table, every run. Its catalog must have
 * the rules of the one `catalogs` holds under its name (a look-alike may differ in rules the other layers
 * follow); the same rules in another module instance (a test's fresh import) are the same catalog.
 */
export function checkViewCatalogs(views: readonly ViewDefinition[], catalogs: EventCatalogs): void {
  for (const view of views) {
    const name = view.events.name;
    const known = catalogs.get(name);
    if (
      known === view.events ||
      (known !== undefined && canonicalJson(catalogRules(known)) === canonicalJson(catalogRules(view.events)))
    )
      continue;
    throw new ViewDefinitionError(
      view.name,
      'events',
      known === undefined
        ? `its catalog ${name} is not one of the stack's (${catalogs.names.join(', ')}): add it to catalogs in events.ts`
        : `its catalog ${name} has other rules than the stack's ${name}: define the view over the catalog events.ts exports`,
    );
  }
}
