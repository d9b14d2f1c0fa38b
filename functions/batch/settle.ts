import { latenessOverWindow } from '../adapters/lateness-store';
import { emptyLatenessHistogram, type Settle, settleOf } from '../core/lateness';
import type { BatchDeps } from './deps';

/**
 * The settle time of each view for a run planned at `now`: the stage's fixed one, or under `auto` the one
 * learned from the view's lateness over the window. A failed read of the lateness counts does not fail the
 * plan: the view gets `auto`'s maximum, the safe bound (logged).
 */
export function viewSettles(deps: BatchDeps, now: number): (view: string) => Promise<Settle> {
  const policy = deps.settle ?? { mode: 'fixed', ms: deps.settleMs, windowDays: 0 };
  return async (view) => {
    if (policy.mode === 'fixed') return settleOf(policy, emptyLatenessHistogram());
    try {
      const lateness = await latenessOverWindow(deps.store.lateness, view, policy.windowDays, now);
      return settleOf(policy, lateness.histogram);
    } catch (error) {
      deps.logger.warn('lateness not read: the settle time is the maximum', { view, error });
      return { mode: 'auto', ms: policy.maxMs };
    }
  };
}
