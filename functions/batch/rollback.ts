import { switchOf } from '../adapters/batch-store/manifest';
import { isRetained, type ReplacedSummary } from '../adapters/batch-store/manifest-history';
import { type LedgerRun, type Manifest, ManifestConflictError } from '../adapters/dynamo-batch-store';
import { rollbackRunId } from '../core/restatements';
import { unservableReason } from './definition-switch';
import { continueRecording, type LedgerDeps, ledgerDeadline, ledgerRunOf } from './ledger';

/** What a rollback works with: the API's dependencies have all of it, and so do the batch steps'. */
export interface RollbackDeps extends LedgerDeps {
  /** How long a replaced manifest can be rolled back to (the stage's `rollbackRetentionDays`). */
  readonly rollbackRetentionMs: number;
  /** The stage's `definitionSwitchMarginSeconds`: a version's speed items count from a bucket past it. */
  readonly definitionSwitchMarginMs: number;
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
  /** Exact values it restated (in the ledger, cause `rollback`); null while still being recorded. */
  readonly restatements: number | null;
  /** The ledger's header of the rollback as it stands: clean-up completes what the request's budget left. */
  readonly ledger: LedgerRun;
  /** The view version the plan no longer recomputes (the target is older than the code's), or null. */
  readonly heldBackVersion: number | null;
}

/**
 * There is no version to roll back to (`not-kept`), or the one named can no longer be served
 * (`unservable`: its day versions or its definition are gone): the message says why.
 */
export class RollbackRefusedError extends Error {
  override readonly name = 'RollbackRefusedError';
  constructor(
    message: string,
    readonly reason: 'not-kept' | 'unservable' = 'not-kept',
  ) {
    super(message);
  }
}

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** The replaced manifest a rollback returns to: the one before the current, or the latest `to` committed. */
function targetOf(current: Manifest, history: readonly ReplacedSummary[], to: string | undefined) {
  // A history entry at or past the current revision was written by a commit that then failed.
  const earlier = history.filter((entry) => entry.revision < current.revision);
  const target = to === undefined ? earlier.at(-1) : earlier.findLast((entry) => entry.lastRunId === to);
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
 * versions that long), each of its day versions must still be registered, and a view version other than
 * the code's must have its definition in the registry (readers serve it from there). The current manifest is
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
      `manifest of ${viewName} moved past revision ${request.expectedRevision}`,
    );
  const chosen = targetOf(current, await deps.store.manifestHistory.list(viewName), request.to);
  const now = deps.now();
  if (!isRetained(chosen.replacedAt, now, deps.rollbackRetentionMs))
    throw new RollbackRefusedError(
      `revision ${chosen.revision} of ${viewName} (batch version ${chosen.lastRunId}) was ` +
        `replaced at ${iso(chosen.replacedAt)}, past the rollback retention of ` +
        `${deps.rollbackRetentionMs / DAY_MS} days: its day versions may be deleted`,
    );
  const codeVersion = deps.views.find((view) => view.name === viewName)?.version;
  // Only the chosen manifest is read whole.
  const target = await deps.store.manifestHistory.get(viewName, chosen.revision);
  if (target === null)
    throw new RollbackRefusedError(`revision ${chosen.revision} of ${viewName} is no longer kept`);
  // Another version than the served one is served from its registered definition, and from speed items
  // that must have counted every event from the target's watermark on: the same test a switch passes.
  const unservable =
    target.manifest.version === current.version
      ? null
      : await unservableReason(deps, viewName, target.manifest.version, target.manifest.watermark);
  if (unservable !== null)
    throw new RollbackRefusedError(
      `revision ${chosen.revision} of ${viewName} (view version ${chosen.version}) cannot be served again: ${unservable}`,
      'unservable',
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
      'unservable',
    );
  const heldBackVersion =
    codeVersion !== undefined && target.manifest.version < codeVersion ? codeVersion : null;
  const {
    rolledBackTo: _to,
    rolledBackVersions: _versions,
    replacedVersion: _replaced,
    switchedAt: _switched,
    ...served
  } = target.manifest;
  const next: Manifest = {
    ...served,
    revision: current.revision + 1,
    committedAt: now,
    // Going back across versions is a switch too: the speed layer keeps counting the version left for
    // the rollback retention, so that rolling this rollback back serves no hole either.
    ...switchOf(current, target.manifest.version, now),
    rolledBackTo: { revision: target.manifest.revision, lastRunId: target.manifest.lastRunId },
    ...(heldBackVersion === null
      ? {}
      : { rolledBackVersions: [...new Set([...(current.rolledBackVersions ?? []), heldBackVersion])] }),
  };
  // The history, then the ledger's header (always: the watermark moves even when no value does), then
  // the one conditional write. A crash before it leaves readers where they were; a header whose write
  // lost is never listed, and clean-up deletes it.
  const run = ledgerRunOf(current, next, rollbackRunId(next.revision), 'rollback');
  await deps.store.manifestHistory.put(current, now);
  await deps.store.restatements.begin(run);
  await deps.store.commitManifest(next, current.revision);
  // Committed: nothing from here on may fail the request (run again, it would undo the rollback).
  let recorded = run;
  try {
    recorded = await continueRecording(deps, run, current, next, ledgerDeadline(deps, 'rollback'));
  } catch (error) {
    deps.logger.error('rollback restatements not recorded yet: clean-up goes on', {
      view: viewName,
      revision: next.revision,
      error,
    });
  }
  deps.logger.info('manifest rolled back', {
    view: viewName,
    revision: next.revision,
    to: next.rolledBackTo,
    ledger: recorded,
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
    restatements: recorded.complete ? recorded.entries : null,
    ledger: recorded,
    heldBackVersion,
  };
}
