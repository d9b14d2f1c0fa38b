import {
  definitionHash,
  type EventCatalog,
  type ViewDefinition,
  type ViewDocument,
  viewDocument,
  viewFromDocument,
} from '../../core';
import { definitionKey } from '../../core/keys';
import type { Item, Table } from '../table';

/**
 * A view version as the table keeps it: the definition as data, so that a version the code no longer
 * holds can still be counted (speed) and served (API) until the version replacing it has caught up.
 */
export interface DefinitionEntry {
  readonly document: ViewDocument;
  /** `definitionHash` of the version as first registered. */
  readonly definitionHash: string;
  /** When the version was first registered (by a plan or a speed function). */
  readonly registeredAt: number;
  /**
   * When a speed function first registered the version before counting it: every event arriving from
   * then on is counted in its speed items. Null while no speed function has counted it.
   */
  readonly countingSince: number | null;
}

function entryOf(item: Item | undefined): DefinitionEntry | null {
  const document = item?.document?.S;
  if (item === undefined || document === undefined) return null;
  return {
    document: JSON.parse(document) as ViewDocument,
    definitionHash: item.definitionHash?.S ?? '',
    registeredAt: Number(item.registeredAt?.N ?? 0),
    countingSince: item.countingSince?.N === undefined ? null : Number(item.countingSince.N),
  };
}

/**
 * The registry of view definitions, one item per (view, version). Every field is set once
 * (`if_not_exists`): the first registration of a version stays, whoever makes it later.
 */
export class Definitions {
  constructor(private readonly table: Table) {}

  /**
   * Registers a view version as of `now` and returns the entry as stored. With `counting`, the caller is a
   * speed function about to count it: `countingSince` is set if it is not yet, and so is never later than
   * the first event any speed function counted for the version.
   */
  async register(
    view: ViewDefinition,
    now: number,
    options: { counting: boolean },
  ): Promise<DefinitionEntry> {
    const sets = [
      '#document = if_not_exists(#document, :document)',
      'definitionHash = if_not_exists(definitionHash, :hash)',
      'registeredAt = if_not_exists(registeredAt, :now)',
      ...(options.counting ? ['countingSince = if_not_exists(countingSince, :now)'] : []),
    ];
    const key = definitionKey(view.name, view.version);
    await this.table.update(key, `SET ${sets.join(', ')}`, {
      // `document` is a DynamoDB reserved word.
      names: { '#document': 'document' },
      values: {
        ':document': { S: JSON.stringify(viewDocument(view)) },
        ':hash': { S: definitionHash(view) },
        ':now': { N: String(now) },
      },
    });
    return (await this.get(view.name, view.version)) as DefinitionEntry;
  }

  /** A view version's entry, or null if none was registered. */
  async get(viewName: string, version: number): Promise<DefinitionEntry | null> {
    return entryOf(await this.table.get(definitionKey(viewName, version), true));
  }

  /** A registered version as a view over `catalog` (the code may no longer hold it), or null. */
  async view(viewName: string, version: number, catalog: EventCatalog): Promise<ViewDefinition | null> {
    const entry = await this.get(viewName, version);
    return entry === null ? null : viewFromDocument(entry.document, catalog);
  }
}
