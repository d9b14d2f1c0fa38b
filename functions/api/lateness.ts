import { latenessWindow } from '../adapters/lateness-store';
import { STAGE_DEFAULTS } from '../commons/layout';
import { bucketStart } from '../core/keys';
import {
  type LatenessSummary,
  latenessSummary,
  mergeViewLateness,
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

/** How long the API function reuses a view's lateness over the window's past hours. */
export const LATENESS_WINDOW_CACHE_MS = 5 * 60_000;

/**
 * Each view's lateness report: the settle time is the one a batch run planned now would use (`settleOf`
 * over the same window as the plan's, `latenessOverWindow`). The window's past hours (windowDays x 24
 * items per shard) are read at most once per `LATENESS_WINDOW_CACHE_MS` per function instance and view,
 * and again when the hour turns; each request reads only the current hour's items (one per shard).
 */
export class LatenessReports {
  private readonly policy: SettlePolicy;
  private readonly pastHours = new Map<
    string,
    { at: number; until: number; lateness: Promise<ViewLateness> }
  >();

  constructor(private readonly deps: ApiDeps) {
    this.policy = deps.settle ?? DEFAULT_POLICY;
  }

  async of(view: string, now: number): Promise<ViewLatenessReport> {
    // The plan's window, split at the current hour: the past hours are cached, the current one is not.
    const window = latenessWindow(this.policy.windowDays, now);
    const hour = bucketStart(now, 'hour');
    const [past, current] = await Promise.all([
      this.pastHoursOf(view, now, window.from, hour),
      this.deps.batchStore.lateness.read(view, hour, window.to),
    ]);
    const lateness = mergeViewLateness(past, current);
    return {
      lateness: { windowDays: this.policy.windowDays, ...latenessSummary(lateness) },
      settle: settleOf(this.policy, lateness.histogram),
    };
  }

  private pastHoursOf(view: string, now: number, from: number, hour: number): Promise<ViewLateness> {
    const hit = this.pastHours.get(view);
    if (hit !== undefined && hit.until === hour && now >= hit.at && now - hit.at < LATENESS_WINDOW_CACHE_MS)
      return hit.lateness;
    const entry = { at: now, until: hour, lateness: this.deps.batchStore.lateness.read(view, from, hour) };
    this.pastHours.set(view, entry);
    // A failed read is not kept: the next request asks again.
    entry.lateness.catch(() => {
      if (this.pastHours.get(view) === entry) this.pastHours.delete(view);
    });
    return entry.lateness;
  }
}
