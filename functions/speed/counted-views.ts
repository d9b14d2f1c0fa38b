import type { Logger } from '@aws-lambda-powertools/logger';
import type { DefinitionEntry, DynamoBatchStore } from '../adapters/dynamo-batch-store';
import {
  type CompiledView,
  compileJs,
  definitionHash,
  type EventCatalog,
  type ViewDefinition,
  viewFromDocument,
} from '../core';

/** Where the speed layer registers the versions it counts and learns which version each view serves. */
export interface ViewRegistry {
  /** Registers a version about to be counted (its `countingSince` is set once); the entry as stored. */
  register(view: ViewDefinition, now: number): Promise<DefinitionEntry>;
  /** The version a view's manifest serves, or null before its first commit. */
  servedVersion(viewName: string): Promise<number | null>;
  /** A registered version's entry, or null. */
  definition(viewName: string, version: number): Promise<DefinitionEntry | null>;
}

/** The registry over the table: definitions and manifests as the batch layer keeps them. */
export const registryOver = (store: DynamoBatchStore): ViewRegistry => ({
  register: (view, now) => store.definitions.register(view, now, { counting: true }),
  servedVersion: async (viewName) => (await store.getManifest(viewName))?.version ?? null,
  definition: (viewName, version) => store.definitions.get(viewName, version),
});

/** How often the served versions are read again: a switch is seen within this. */
export const SERVED_VERSIONS_REFRESH_MS = 30_000;

export interface CountedViewsOptions {
  readonly catalog: EventCatalog;
  readonly views: readonly ViewDefinition[];
  /** Without one (unit tests, benches) the code's views alone are counted, as registered nowhere. */
  readonly registry?: ViewRegistry;
  readonly logger: Logger;
  readonly now: () => number;
  /** @default SERVED_VERSIONS_REFRESH_MS */
  readonly refreshMs?: number;
}

/**
 * The views the speed layer counts: the code's, and, for a view whose manifest still serves another
 * version (a new definition is backfilling), that version too, from its stored definition, so that what
 * the API serves until the switch keeps counting every event. The code's versions are registered before
 * the first batch is counted; the served versions are read at most every `refreshMs`, and a stored
 * definition once.
 */
export class CountedViews {
  private readonly own: readonly CompiledView[];
  private counted: readonly CompiledView[];
  private registered: Promise<void> | null = null;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  /** Stored versions compiled, by `<view>#<version>`; null: none is stored. */
  private readonly stored = new Map<string, CompiledView | null>();

  constructor(private readonly options: CountedViewsOptions) {
    this.own = options.views.map(compileJs);
    this.counted = this.own;
  }

  /** The compiled views to count the next batch with. */
  async current(): Promise<readonly CompiledView[]> {
    const { registry } = this.options;
    if (registry === undefined) return this.own;
    // A failed registration fails the batch (Lambda retries it): nothing is counted unregistered.
    this.registered ??= this.register(registry).catch((error: unknown) => {
      this.registered = null;
      throw error;
    });
    await this.registered;
    const now = this.options.now();
    if (now - this.refreshedAt >= (this.options.refreshMs ?? SERVED_VERSIONS_REFRESH_MS)) {
      this.counted = [...this.own, ...(await this.previousVersions(registry))];
      this.refreshedAt = now;
    }
    return this.counted;
  }

  private async register(registry: ViewRegistry): Promise<void> {
    const now = this.options.now();
    for (const view of this.options.views) {
      const entry = await registry.register(view, now);
      if (entry.definitionHash !== definitionHash(view))
        this.options.logger.warn('view changed without a new version: the stored definition differs', {
          view: view.name,
          version: view.version,
          registeredAt: entry.registeredAt,
        });
    }
  }

  /** The versions the manifests serve that are not the code's, compiled from their stored definitions. */
  private async previousVersions(registry: ViewRegistry): Promise<CompiledView[]> {
    const previous: CompiledView[] = [];
    for (const view of this.options.views) {
      const served = await registry.servedVersion(view.name);
      if (served === null || served === view.version) continue;
      const key = `${view.name}#${served}`;
      if (!this.stored.has(key)) {
        const entry = await registry.definition(view.name, served);
        this.stored.set(
          key,
          entry === null ? null : compileJs(viewFromDocument(entry.document, this.options.catalog)),
        );
        if (entry === null)
          this.options.logger.warn('the served version is not registered: it is not counted', {
            view: view.name,
            version: served,
          });
      }
      const compiled = this.stored.get(key);
      if (compiled != null) previous.push(compiled);
    }
    return previous;
  }
}
