/**
 * How late events arrive (arrival time minus event time), as a fixed-bin histogram: a monoid (the empty
 * histogram, bin-wise sum), so the speed layer's per-invocation counts, the stored hours and a window
 * of days all merge the same way. The settle time `auto` learns is read from it.
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The upper edges (exclusive) of every bin but the last, in milliseconds: bin 0 holds events whose event
 * time is ahead of their arrival (lateness < 0), bin i holds [edge i-1, edge i), and the last bin holds
 * everything from 7 days on. Log-like: fine where settle times are chosen, coarse past a day.
 */
export const LATENESS_BIN_EDGES_MS: readonly number[] = [
  0,
  SECOND,
  2 * SECOND,
  5 * SECOND,
  10 * SECOND,
  30 * SECOND,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
];

/** How many bins a histogram has: one more than its edges (the last is open). */
export const LATENESS_BINS = LATENESS_BIN_EDGES_MS.length + 1;

/** Counts per bin, `LATENESS_BINS` of them. */
export type LatenessHistogram = readonly number[];

export const emptyLatenessHistogram = (): number[] => new Array<number>(LATENESS_BINS).fill(0);

/** The bin a lateness falls in. */
export function latenessBin(latenessMs: number): number {
  // A plain loop, no callback: called once per event the speed layer counts. Most events fall in the first bins.
  for (let bin = 0; bin < LATENESS_BIN_EDGES_MS.length; bin++)
    if (latenessMs < (LATENESS_BIN_EDGES_MS[bin] as number)) return bin;
  return LATENESS_BINS - 1;
}

/** Bin `bin`'s upper edge (exclusive): every lateness it counts is below it. Infinity for the last bin. */
export const latenessBinUpperEdge = (bin: number): number =>
  LATENESS_BIN_EDGES_MS[bin] ?? Number.POSITIVE_INFINITY;

/** The monoid's sum: bin by bin. */
export function mergeLatenessHistograms(a: LatenessHistogram, b: LatenessHistogram): number[] {
  return emptyLatenessHistogram().map((_, bin) => (a[bin] ?? 0) + (b[bin] ?? 0));
}

/** The histogram of these latenesses. */
export function latenessHistogramOf(latenessesMs: Iterable<number>): number[] {
  const histogram = emptyLatenessHistogram();
  for (const lateness of latenessesMs) {
    const bin = latenessBin(lateness);
    histogram[bin] = (histogram[bin] ?? 0) + 1;
  }
  return histogram;
}

export const latenessEvents = (histogram: LatenessHistogram): number =>
  histogram.reduce((sum, count) => sum + count, 0);

/**
 * Whether `covered` of `total` events is at least `share` of them. Relative slack of 1e-12 so that the
 * float product `share * total` (0.999 * 1000 is 998.9999999999999 or 999.0000000000001) cannot ask for
 * one event more than the share does.
 */
const coversShare = (covered: number, total: number, share: number): boolean =>
  covered >= share * total * (1 - 1e-12);

/**
 * The smallest bin upper edge below which at least `share` (0 to 1) of the histogram's events arrived:
 * a settle time of that many milliseconds covers them. Infinity when only the open last bin reaches the
 * share; null for an empty histogram.
 */
export function latenessQuantile(histogram: LatenessHistogram, share: number): number | null {
  const total = latenessEvents(histogram);
  if (total === 0) return null;
  let covered = 0;
  for (let bin = 0; bin < LATENESS_BINS; bin++) {
    covered += histogram[bin] ?? 0;
    if (coversShare(covered, total, share)) return latenessBinUpperEdge(bin);
  }
  return Number.POSITIVE_INFINITY;
}

/** The bounds `auto` learns the settle time within. */
export interface AutoSettleOptions {
  /** The share of events the settle time must cover, 0 to 1 (0.999: 99.9%). */
  readonly share: number;
  readonly minMs: number;
  readonly maxMs: number;
}

/**
 * The settle time a run uses under `auto`: the histogram's `share` quantile rounded up to a whole minute
 * (as the stage's settle is), within [minMs, maxMs]. No events in the window: the maximum, since nothing
 * says a shorter wait would do.
 */
export function autoSettle(histogram: LatenessHistogram, options: AutoSettleOptions): number {
  const quantile = latenessQuantile(histogram, options.share);
  if (quantile === null || quantile === Number.POSITIVE_INFINITY) return options.maxMs;
  const minutes = Math.ceil(Math.max(0, quantile) / MINUTE) * MINUTE;
  return Math.min(options.maxMs, Math.max(options.minMs, minutes));
}

/**
 * How a stage sets its settle time: a fixed one, or learned from the arrivals of the last `windowDays`
 * (over which lateness is reported either way).
 */
export type SettlePolicy =
  | { readonly mode: 'fixed'; readonly ms: number; readonly windowDays: number }
  | ({ readonly mode: 'auto'; readonly windowDays: number } & AutoSettleOptions);

/** The settle time a view gets, and how it was chosen. */
export interface Settle {
  readonly mode: SettlePolicy['mode'];
  readonly ms: number;
}

/** The settle time a view gets under a policy, given its lateness over the policy's window. */
export function settleOf(policy: SettlePolicy, histogram: LatenessHistogram): Settle {
  return { mode: policy.mode, ms: policy.mode === 'fixed' ? policy.ms : autoSettle(histogram, policy) };
}

/**
 * What the speed layer records per view (and per arrival hour): the lateness histogram of the events the
 * view counts, and that of those which arrived after their bucket was exact (`arrivedAfterExact`: the next
 * batch run restates them). Both by the same bins, so stored counts under bins that no longer exist are
 * dropped from both alike: the second is bin by bin at most the first, and its share at most 1.
 */
export interface ViewLateness {
  readonly histogram: LatenessHistogram;
  readonly lateAfterExact: LatenessHistogram;
}

export const emptyViewLateness = (): ViewLateness => ({
  histogram: emptyLatenessHistogram(),
  lateAfterExact: emptyLatenessHistogram(),
});

export const mergeViewLateness = (a: ViewLateness, b: ViewLateness): ViewLateness => ({
  histogram: mergeLatenessHistograms(a.histogram, b.histogram),
  lateAfterExact: mergeLatenessHistograms(a.lateAfterExact, b.lateAfterExact),
});

/** What a view's manifest says of exactness: its watermark, and when the run that committed it started. */
export interface Exactness {
  readonly watermark: number;
  /** Null before any committed run. */
  readonly lastRunStartedAt: number | null;
}

/**
 * Whether an event arrived after its bucket was exact, so the next batch run restates it: its bucket is
 * below the watermark W, and it arrived at or after the start of the run that committed W. An event that
 * arrived earlier was in that run's input: the run reads the archive after starting, and the archive
 * holds every event that arrived before the run's "as of" instant (`runAsOf`, at most its start; the
 * manifest records the start only). The remaining error, both ways bounded by the archive's delivery delay
 * or the speed layer's lag: an event arriving between "as of" and the start and not yet delivered when the
 * run read its day is restated but not counted; one arriving after the start but delivered before the
 * read is counted but not restated; one arriving during a run and counted by the speed layer before the
 * commit (or within the manifest's cache time after it, or after a later run committed) is judged against
 * the manifest it was counted under, and missed when that is not the one that made its bucket exact.
 */
export function arrivedAfterExact(bucket: number, arrival: number, exactness: Exactness): boolean {
  return (
    bucket < exactness.watermark &&
    exactness.lastRunStartedAt !== null &&
    arrival >= exactness.lastRunStartedAt
  );
}

/** A view's lateness as `GET /views` reports it. Quantiles are bin upper edges; null: none, or past 7 days. */
export interface LatenessSummary {
  readonly events: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly p999Ms: number | null;
  readonly lateAfterExact: number;
  /** lateAfterExact / events; 0 with no events. */
  readonly lateAfterExactShare: number;
}

export function latenessSummary(lateness: ViewLateness): LatenessSummary {
  const events = latenessEvents(lateness.histogram);
  const lateAfterExact = latenessEvents(lateness.lateAfterExact);
  const finite = (share: number) => {
    const quantile = latenessQuantile(lateness.histogram, share);
    return quantile === null || quantile === Number.POSITIVE_INFINITY ? null : quantile;
  };
  return {
    events,
    p50Ms: finite(0.5),
    p99Ms: finite(0.99),
    p999Ms: finite(0.999),
    lateAfterExact,
    lateAfterExactShare: events === 0 ? 0 : lateAfterExact / events,
  };
}

/** How long the speed layer's hourly lateness counts are kept (TTL): the longest window `auto` may learn from. */
export const LATENESS_RETENTION_DAYS = 35;
