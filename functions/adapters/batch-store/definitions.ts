import {
  definitionHash,
  type EventCatalogs,
  type ViewDefinition,
  type ViewDocument,
  viewDocument,
  viewFromDocument,
} from '../../core';
import { definitionKey, definitionPartition } from '../../core/keys';
import { type Item, Table } from '../table';

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
   * Since when the speed functions count the version without a gap: every event arriving from then on is
   * in its speed items (but for a deploy's rollover: `definitionSwitchFrom`'s margin). Set (if not set)
   * by a speed function about to count it, cleared by one that counts the view without it; null while
   * none counts it.
   */
  readonly countingSince: number | null;
}

/** A registered version and since when it is counted (`DefinitionEntry.countingSince`). */
export interface CountedVersion {
  readonly version: number;
  readonly countingSince: number | null;
}

/**
 * What a view version is served and counted as (`Definitions.definitionOf`): the code's view when it is
 * that version, else the stored definition, built over the catalog it names; or why it cannot be (not
 * registered, or no longer valid over the catalog). `definitionHash` is the version's as registered (the
 * rows were computed with it), not a hash of the view rebuilt over today's catalog.
 */
export type VersionDefinition =
  | { readonly view: ViewDefinition; readonly definitionHash: string; readonly error: null }
  | {
      readonly view: null;
      readonly definitionHash: string | null;
      readonly error: string;
      /** False: no such version was registered (a manifest committed before the registry existed). */
      readonly registered: boolean;
    };

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
 * The registry of view definitions, one item per (view, version). Every field but `countingSince` is set
 * once (`if_not_exists`): the first registration of a version stays, whoever makes it later.
 */
export class Definitions {
  constructor(
    private readonly table: Table,
    /** The stack's catalogs: where a stored definition's catalog is found by name. */
    private readonly catalogs: EventCatalogs,
  ) {}

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

  /** Every registered version of a view, oldest first, with since when it is counted (not the documents). */
  async counting(viewName: string): Promise<CountedVersion[]> {
    const versions: CountedVersion[] = [];
    for await (const item of this.table.query(definitionPartition(viewName), {
      consistent: true,
      projection: ['countingSince'],
    })) {
      // Sort keys are `v<version>` (`definitionKey`).
      const version = Number(Table.sortKeyOf(item).slice(1));
      if (!Number.isSafeInteger(version)) continue;
      versions.push({
        version,
        countingSince: item.countingSince?.N === undefined ? null : Number(item.countingSince.N),
      });
    }
    return versions;
  }

  /**
   * Marks a registered version as counted from `now` on, unless it is already (a version not registered is
   * left alone: nothing could be counted from its document).
   */
  async startCounting(viewName: string, version: number, now: number): Promise<void> {
    await this.table.updateIf(
      definitionKey(viewName, version),
      'SET countingSince = if_not_exists(countingSince, :now)',
      {
        condition: 'attribute_exists(#pk)',
        values: { ':now': { N: String(now) } },
      },
    );
  }

  /**
   * Marks a version as no longer counted: a speed function counts the view without it. Whoever counts it
   * again sets `countingSince` anew, so that a switch to it (or back to it) waits for a count without gap.
   */
  async stopCounting(viewName: string, version: number): Promise<void> {
    await this.table.updateIf(definitionKey(viewName, version), 'REMOVE countingSince', {
      condition: 'attribute_exists(countingSince)',
    });
  }

  /** A view version's entry, or null if none was registered. */
  async get(viewName: string, version: number): Promise<DefinitionEntry | null> {
    return entryOf(await this.table.get(definitionKey(viewName, version), true));
  }

  /**
   * What `version` of the code's view is served and counted as: the code's view when it is that version,
   * the stored definition over the catalog it names when the code holds another (a manifest still serves it
   * while a new definition backfills, or a rollback returned to it), or why neither can be. The one place
   * that decides it: the API, the speed layer and rollbacks ask here.
   */
  async definitionOf(code: ViewDefinition, version: number): Promise<VersionDefinition> {
    if (version === code.version) return { view: code, definitionHash: definitionHash(code), error: null };
    const entry = await this.get(code.name, version);
    if (entry === null)
      return {
        view: null,
        definitionHash: null,
        error: `version ${version} of ${code.name} is not in the definition registry`,
        registered: false,
      };
    try {
      return {
        view: viewFromDocument(entry.document, this.catalogs),
        definitionHash: entry.definitionHash,
        error: null,
      };
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return {
        view: null,
        definitionHash: entry.definitionHash,
        error: `the stored definition of ${code.name} v${version} no longer builds over the catalog: ${why}`,
        registered: true,
      };
    }
  }
}
