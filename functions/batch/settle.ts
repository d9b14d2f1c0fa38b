import { latenessOverWindow } from '../adapters/lateness-store';
import { emptyLatenessHistogram, type Settle, settleOf, type ViewLateness } from '../core/lateness';
import type { BatchDeps } from './deps';

/**
 * The settle time of each view for a run planned at `now`: the stage's fixed one, or under `auto` the one
 * learned from the view's lateness over the window, read once for every view of the run.
 */
export function viewSettles(deps: BatchDeps, now: number): (view: string) => Promise<Settle> {
  const policy = deps.settle ?? { mode: 'fixed', ms: deps.settleMs, windowDays: 0 };
  let window: Promise<Map<string, ViewLateness>> | undefined;
  return async (view) => {
    if (policy.mode === 'fixed') return settleOf(policy, emptyLatenessHistogram());
    window ??= latenessOverWindow(deps.store.lateness, policy.windowDays, now);
    return settleOf(policy, (await window).get(view)?.histogram ?? emptyLatenessHistogram());
  };
}
