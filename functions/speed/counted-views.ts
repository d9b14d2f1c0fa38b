import type { Logger } from '@aws-lambda-powertools/logger';
import { isRetained } from '../adapters/batch-store/manifest-history';
import type {
  CountedVersion,
  DefinitionEntry,
  DynamoBatchStore,
  ManifestVersions,
  VersionDefinition,
} from '../adapters/dynamo-batch-store';
import { type CompiledView, compileJs, definitionHash, type ViewDefinition } from '../core';

/** Where the speed layer registers the versions it counts and learns which versions each view serves. */
export interface ViewRegistry {
  /** How long after a switch the version it replaced is counted (a rollback to it serves no hole). */
  readonly rollbackRetentionMs: number;
  /** Registers a version about to be counted (its `countingSince` set unless it is); the entry as stored. */
  register(view: ViewDefinition, now: number): Promise<DefinitionEntry>;
  /** The version a view's manifest serves and the one it replaced, or null before its first commit. */
  manifestVersions(viewName: string): Promise<ManifestVersions | null>;
  /** Every registered version of a view, with since when it is counted. */
  counting(viewName: string): Promise<CountedVersion[]>;
  startCounting(viewName: string, version: number, now: number): Promise<void>;
  stopCounting(viewName: string, version: number): Promise<void>;
  /** What a version of the code's view is counted as (`Definitions.definitionOf`). */
  definitionOf(code: ViewDefinition, version: number): Promise<VersionDefinition>;
}

/** The registry over the table: definitions and manifests as the batch layer keeps them. */
export const registryOver = (
  store: DynamoBatchStore,
  options: { readonly rollbackRetentionMs: number },
): ViewRegistry => ({
  rollbackRetentionMs: options.rollbackRetentionMs,
  register: (view, now) => store.definitions.register(view, now, { counting: true }),
  manifestVersions: (viewName) => store.manifestVersions(viewName),
  counting: (viewName) => store.definitions.counting(viewName),
  startCounting: (viewName, version, now) => store.definitions.startCounting(viewName, version, now),
  stopCounting: (viewName, version) => store.definitions.stopCounting(viewName, version),
  definitionOf: (code, version) => store.definitions.definitionOf(code, version),
});

/** How often the served versions are read again: a switch is seen within this. */
export const SERVED_VERSIONS_REFRESH_MS = 30_000;

/**
 * The versions of a view the speed layer counts besides the code's: the one its manifest serves, and the
 * one a switch replaced, for the rollback retention after the switch (a rollback to it serves no hole).
 */
function countedVersions(
  code: ViewDefinition,
  manifest: ManifestVersions | null,
  now: number,
  rollbackRetentionMs: number,
): number[] {
  const versions = new Set([code.version]);
  if (manifest !== null) {
    versions.add(manifest.version);
    if (
      manifest.replacedVersion !== undefined &&
      manifest.switchedAt !== undefined &&
      isRetained(manifest.switchedAt, now, rollbackRetentionMs)
    )
      versions.add(manifest.replacedVersion);
  }
  return [...versions];
}

export interface CountedViewsOptions {
  readonly views: readonly ViewDefinition[];
  /** Without one (unit tests, benches) the code's views alone are counted, as registered nowhere. */
  readonly registry?: ViewRegistry;
  readonly logger: Logger;
  readonly now: () => number;
  /** @default SERVED_VERSIONS_REFRESH_MS */
  readonly refreshMs?: number;
}

/**
 * The views the speed layer counts: the code's, and, from their stored definitions, the version each
 * view's manifest serves (a new definition backfills until it switches) and the version a switch replaced
 * (for the rollback retention). The code's versions are registered before the first batch is counted.
 * Every `refreshMs`, before the batch is counted, the registry is brought in line with what this function
 * counts: each version it counts is marked counted (`countingSince`, unless it is), and each other
 * registered version of the view is marked not counted, so `countingSince` means "counted without a gap
 * since" and a switch to a version counted once, then dropped, waits for it to be counted again.
 *
 * A stored definition that no longer builds over the catalog (the catalog changed under it) is not
 * counted, not marked counted, and reported (`unbuildable`, logged once per version): one bad version
 * never stops the speed layer. The stored definitions are rebuilt over today's catalog: if its validity
 * rules changed, the old version's speed items follow the new rules while its batch rows followed the old.
 * Nor does a registry that fails after the first refresh: batches are counted as before (`stale`) until a
 * refresh succeeds.
 */
export class CountedViews {
  private readonly own: readonly CompiledView[];
  private counted: readonly CompiledView[];
  private registered: Promise<void> | null = null;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  /** Stored versions, compiled or why not, by `<view>#<version>`: a version's definition never changes. */
  private readonly stored = new Map<string, CompiledView | string>();
  private unbuildableCount = 0;
  private staleCount = 0;

  constructor(private readonly options: CountedViewsOptions) {
    this.own = options.views.map(compileJs);
    this.counted = this.own;
  }

  /** How many versions a manifest serves or a switch replaced the last refresh found unbuildable. */
  get unbuildable(): number {
    return this.unbuildableCount;
  }

  /**
   * 1 when the last batch was counted with views of an earlier refresh because the registry could not be
   * read or updated (a switch or a rollback retention's end is then seen late), else 0.
   */
  get stale(): number {
    return this.staleCount;
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
    if (now - this.refreshedAt < (this.options.refreshMs ?? SERVED_VERSIONS_REFRESH_MS)) return this.counted;
    try {
      this.counted = await this.refresh(registry, now);
    } catch (error) {
      // Before the first refresh, a failure fails the batch (Lambda retries it): which version the manifest
      // serves is unknown, and counting the code's alone would leave the served version's speed items
      // without this batch, a hole the API would serve while its `countingSince`, set by another instance,
      // says it is counted without a gap.
      if (this.refreshedAt === Number.NEGATIVE_INFINITY) throw error;
      // After it, one registry failure must not stall the shard: the batch is counted as the last one was,
      // and the next batch tries again (`refreshedAt` is left as it was).
      this.staleCount = 1;
      this.options.logger.warn(
        'the registry could not be read or updated: counting the views counted before',
        {
          error,
        },
      );
      return this.counted;
    }
    this.refreshedAt = now;
    this.staleCount = 0;
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

  /**
   * The views to count, with the registry's `countingSince` marks brought in line with them. Every read
   * comes first, so a failed read changes no mark. A failed mark write leaves some marks changed: then the
   * versions counted before and the new ones are counted together until a refresh succeeds, so that no
   * version marked counted (a start written, a stop not) goes uncounted, and a version counted unmarked
   * only makes a switch to it wait.
   */
  private async refresh(registry: ViewRegistry, now: number): Promise<readonly CompiledView[]> {
    const counted: CompiledView[] = [...this.own];
    const marks: { view: string; version: number; start: boolean }[] = [];
    let unbuildable = 0;
    for (const code of this.options.views) {
      const [manifest, registered] = await Promise.all([
        registry.manifestVersions(code.name),
        registry.counting(code.name),
      ]);
      const versions = new Set<number>([code.version]);
      for (const version of countedVersions(code, manifest, now, registry.rollbackRetentionMs)) {
        if (version === code.version) continue;
        const compiled = await this.storedVersion(registry, code, version);
        if (typeof compiled === 'string') {
          // A manifest committed before the registry existed is of no registered version: not alarmed.
          if (compiled !== NOT_REGISTERED) unbuildable++;
          continue;
        }
        counted.push(compiled);
        versions.add(version);
      }
      for (const { version, countingSince } of registered)
        if (versions.has(version) !== (countingSince !== null))
          marks.push({ view: code.name, version, start: countingSince === null });
    }
    this.unbuildableCount = unbuildable;
    try {
      for (const { view, version, start } of marks)
        if (start) await registry.startCounting(view, version, now);
        else await registry.stopCounting(view, version);
    } catch (error) {
      this.counted = [...this.counted, ...counted.filter((view) => !this.counted.includes(view))];
      throw error;
    }
    return counted;
  }

  /** A stored version compiled, or why it cannot be counted; asked once per version. */
  private async storedVersion(
    registry: ViewRegistry,
    code: ViewDefinition,
    version: number,
  ): Promise<CompiledView | string> {
    const key = `${code.name}#${version}`;
    const known = this.stored.get(key);
    if (known !== undefined) return known;
    const definition = await registry.definitionOf(code, version);
    const compiled = compiledDefinition(definition);
    this.stored.set(key, compiled);
    if (compiled === NOT_REGISTERED)
      this.options.logger.warn('the served version is not registered: it is not counted', {
        view: code.name,
        version,
      });
    else if (typeof compiled === 'string')
      this.options.logger.error('a served version is not counted: its stored definition cannot be used', {
        view: code.name,
        version,
        reason: compiled,
      });
    else if (definition.view !== null && definitionHash(definition.view) !== definition.definitionHash)
      this.options.logger.warn(
        'the catalog changed since this version was registered: its speed items follow the new rules',
        {
          view: code.name,
          version,
        },
      );
    return compiled;
  }
}

const NOT_REGISTERED = 'not registered';

/** A version's definition compiled for counting, or why it cannot be. */
function compiledDefinition(definition: VersionDefinition): CompiledView | string {
  if (definition.error !== null) return definition.registered ? definition.error : NOT_REGISTERED;
  try {
    return compileJs(definition.view);
  } catch (error) {
    return `it does not compile: ${error instanceof Error ? error.message : String(error)}`;
  }
}
