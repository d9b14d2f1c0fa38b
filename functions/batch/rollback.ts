import type { Logger } from '@aws-lambda-powertools/logger';
import { type Manifest, ManifestConflictError, type ReplacedManifest } from '../adapters/dynamo-batch-store';
import { type LedgerDeps, recordManifestChange } from './ledger';

/** What a rollback works with: the API's dependencies have all of it, and so do the batch steps'. */
export interface RollbackDeps extends LedgerDeps {
  /** How long a replaced manifest can be rolled back to (the stage's `rollbackRetentionDays`). */
  readonly rollbackRetentionMs: number;
  readonly logger: Pick<Logger, 'error' | 'info'>;
  readonly now: () => number;
}

export interface RollbackRequest {
  /** The batch version (run id) to return to: the latest kept manifest that run committed. @default the previous manifest */
  readonly to?: string;
  /** Refuse unless the manifest is still at this revision (what the caller read). */
  readonly expectedRevision?: number;
}

export interface RollbackResult {
  readonly view: string;
  /** The revision the rollback wrote. */
  readonly revision: number;
  /** The revision it replaced. */
  readonly previousRevision: number;
  /** The manifest it serves again. */
  readonly target: {
    readonly revision: number;
    readonly batchVersion: string;
    readonly version: number;
    readonly committedAt: number;
  };
  readonly watermark: number;
  /** Exact values it restated (in the ledger, cause `rollback`); null when recording them failed (logged). */
  readonly restatements: number | null;
  /** The view version the plan no longer recomputes (the target is older than the code's), or null. */
  readonly heldBackVersion: number | null;
}

/** There is no version to roll back to, or it can no longer be served: the message says why. */
export class RollbackRefusedError extends Error {
  override readonly name = 'RollbackRefusedError';
}

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** The replaced manifest a rollback returns to: the one before the current, or the latest `to` committed. */
function targetOf(current: Manifest, history: readonly ReplacedManifest[], to: string | undefined) {
  // A history entry at or past the current revision was written by a commit that then failed.
  const earlier = history.filter((entry) => entry.manifest.revision < current.revision);
  const target =
    to === undefined ? earlier.at(-1) : earlier.findLast((entry) => entry.manifest.lastRunId === to);
  if (target === undefined)
    throw new RollbackRefusedError(
      to === undefined
        ? `no earlier manifest of ${current.view} is kept to roll back to`
        : `no kept manifest of ${current.view} was committed by batch version ${to}`,
    );
  return target;
}

/**
 * Points a view's manifest back to a manifest it replaced (the previous one, or the latest one a given
 * run committed), in one conditional write on the revision read: readers go from one whole version to
 * the other. The target must have been replaced within the rollback retention (clean-up keeps its day
 * versions that long) and each of its day versions must still be registered. The current manifest is
 * kept in the history first, so a rollback can itself be rolled back; the values it changes go to the
 * ledger with cause `rollback`. When the target is of an older view version than the code's, the
 * manifest records the code's version as rolled back, and the plan skips the view until the code's
 * version moves on (else the next run would recompute what was just rolled back).
 */
export async function rollback(
  deps: RollbackDeps,
  viewName: string,
  request: RollbackRequest = {},
): Promise<RollbackResult> {
  const current = await deps.store.getManifest(viewName);
  if (current === null) throw new RollbackRefusedError(`${viewName} has no committed manifest`);
  if (request.expectedRevision !== undefined && current.revision !== request.expectedRevision)
    throw new ManifestConflictError(
      `manifest of ${viewName} is at revision ${current.revision}, not ${request.expectedRevision}`,
    );
  const target = targetOf(current, await deps.store.manifestHistory.list(viewName), request.to);
  const now = deps.now();
  const retainedSince = now - deps.rollbackRetentionMs;
  if (target.replacedAt <= retainedSince)
    throw new RollbackRefusedError(
      `revision ${target.manifest.revision} of ${viewName} (batch version ${target.manifest.lastRunId}) was ` +
        `replaced at ${iso(target.replacedAt)}, past the rollback retention of ` +
        `${deps.rollbackRetentionMs / DAY_MS} days: its day versions may be deleted`,
    );
  const registered = new Set(
    (await deps.store.listVersions(viewName)).map(
      (entry) => `${entry.viewVersion}|${entry.batchVersion}|${entry.day}`,
    ),
  );
  const gone = Object.entries(target.manifest.days).filter(
    ([day, batchVersion]) => !registered.has(`${target.manifest.version}|${batchVersion}|${day}`),
  );
  if (gone.length > 0)
    throw new RollbackRefusedError(
      `revision ${target.manifest.revision} of ${viewName} cannot be served again: ${gone.length} of its ` +
        `day versions are deleted (${gone
          .slice(0, 3)
          .map(([day, version]) => `${day} ${version}`)
          .join(', ')}${gone.length > 3 ? ', ...' : ''})`,
    );
  const codeVersion = deps.views.find((view) => view.name === viewName)?.version;
  const heldBackVersion =
    codeVersion !== undefined && target.manifest.version < codeVersion ? codeVersion : null;
  const { rolledBackTo: _to, rolledBackVersions: _versions, ...served } = target.manifest;
  const next: Manifest = {
    ...served,
    revision: current.revision + 1,
    committedAt: now,
    rolledBackTo: { revision: target.manifest.revision, lastRunId: target.manifest.lastRunId },
    ...(heldBackVersion === null
      ? {}
      : { rolledBackVersions: [...new Set([...(current.rolledBackVersions ?? []), heldBackVersion])] }),
  };
  await deps.store.manifestHistory.put(current, now);
  await deps.store.commitManifest(next, current.revision);
  let restatements: number | null;
  try {
    restatements = await recordManifestChange(deps, {
      previous: current,
      next,
      runId: `rollback-r${next.revision}`,
      cause: 'rollback',
    });
  } catch (error) {
    deps.logger.error('rollback restatements not recorded', {
      view: viewName,
      revision: next.revision,
      error,
    });
    restatements = null;
  }
  deps.logger.info('manifest rolled back', {
    view: viewName,
    revision: next.revision,
    to: next.rolledBackTo,
    restatements,
  });
  return {
    view: viewName,
    revision: next.revision,
    previousRevision: current.revision,
    target: {
      revision: target.manifest.revision,
      batchVersion: target.manifest.lastRunId,
      version: target.manifest.version,
      committedAt: target.manifest.committedAt,
    },
    watermark: next.watermark,
    restatements,
    heldBackVersion,
  };
}
