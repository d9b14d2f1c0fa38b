import { latenessOverWindow } from '../adapters/lateness-store';
import { STAGE_DEFAULTS } from '../commons/layout';
import {
  emptyViewLateness,
  type LatenessSummary,
  latenessSummary,
  type Settle,
  type SettlePolicy,
  settleOf,
  type ViewLateness,
} from '../core/lateness';
import type { ApiDeps } from './deps';

/** What `GET /views` says of a view's lateness: observed over the window, and the settle time it gives. */
export interface ViewLatenessReport {
  readonly lateness: LatenessSummary & { readonly windowDays: number };
  readonly settle: Settle;
}

/** The stage defaults' policy, for deps built without the stage's (tests over hand-made deps). */
const DEFAULT_POLICY: SettlePolicy = {
  mode: 'fixed',
  ms:
    (STAGE_DEFAULTS.settleMinutes === 'auto'
      ? STAGE_DEFAULTS.settleMaxMinutes
      : STAGE_DEFAULTS.settleMinutes) * 60_000,
  windowDays: STAGE_DEFAULTS.settleWindowDays,
};

/**
 * Each view's lateness report as of `now`, the window read once for all views: the settle time is the one
 * a batch run planned now would use (`settleOf`, as the plan calls it).
 */
export function latenessReports(deps: ApiDeps, now: number): (view: string) => Promise<ViewLatenessReport> {
  const policy = deps.settle ?? DEFAULT_POLICY;
  let window: Promise<Map<string, ViewLateness>> | undefined;
  return async (view) => {
    window ??= latenessOverWindow(deps.batchStore.lateness, policy.windowDays, now);
    const lateness = (await window).get(view) ?? emptyViewLateness();
    return {
      lateness: { windowDays: policy.windowDays, ...latenessSummary(lateness) },
      settle: settleOf(policy, lateness.histogram),
    };
  };
}
