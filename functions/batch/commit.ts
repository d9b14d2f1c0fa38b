import type { Manifest } from '../adapters/dynamo-batch-store';
import type { BatchDeps } from './deps';
import type { RunPlan } from './plan';

export interface CommittedView {
  readonly view: string;
  readonly watermark: number;
  readonly previousWatermark: number | null;
  readonly revision: number;
}

export interface CommitOutput {
  readonly runId: string;
  readonly committed: readonly CommittedView[];
}

/**
 * Flips each view's manifest to the new watermark and day versions in one conditional write: readers
 * see the old view or the new one, never half a load. A run that lost the race to another fails here.
 */
export async function commit(deps: BatchDeps, input: RunPlan): Promise<CommitOutput> {
  const committed: CommittedView[] = [];
  for (const viewPlan of input.views) {
    const previous = await deps.store.getManifest(viewPlan.view);
    const days: Record<string, string> = viewPlan.backfill ? {} : { ...previous?.days };
    for (const day of viewPlan.days) days[day] = input.runId;
    const next: Manifest = {
      view: viewPlan.view,
      version: viewPlan.version,
      revision: viewPlan.expectedRevision + 1,
      watermark: viewPlan.watermark,
      days,
      lastRunId: input.runId,
      lastRunStartedAt: input.startedAt,
      committedAt: deps.now(),
    };
    await deps.store.commitManifest(next, viewPlan.expectedRevision);
    committed.push({
      view: viewPlan.view,
      watermark: viewPlan.watermark,
      previousWatermark: viewPlan.previousWatermark,
      revision: next.revision,
    });
  }
  deps.logger.info('batch run committed', { runId: input.runId, committed });
  return { runId: input.runId, committed };
}
