/**
 * The stage's settle setting as the functions read it: one set of variables, the same for the batch
 * steps (which use it) and the API (which reports it), built from the stage's settings by the constructs
 * and read back here, so both sides state it once.
 */
import { z } from 'zod';
import { LATENESS_RETENTION_DAYS, type SettlePolicy } from '../core/lateness';
import { STAGE_DEFAULTS } from './layout';

/** The stage settings the settle time comes from (`lib/config.ts` validates them). */
export interface SettleSettings {
  readonly settleMinutes: number | 'auto';
  readonly settleShare: number;
  readonly settleMinMinutes: number;
  readonly settleMaxMinutes: number;
  readonly settleWindowDays: number;
}

export const DEFAULT_SETTLE_SETTINGS: SettleSettings = STAGE_DEFAULTS;

const minutes = z.coerce.number().int().nonnegative();

/** The variables, each validated: `SETTLE_MINUTES` is a whole number of minutes or `auto`. */
export const settleEnvironment = {
  SETTLE_MINUTES: z.union([z.literal('auto'), minutes], {
    error: 'SETTLE_MINUTES must be a whole number of minutes or auto',
  }),
  SETTLE_SHARE: z.coerce.number().positive().max(1),
  SETTLE_MIN_MINUTES: minutes,
  SETTLE_MAX_MINUTES: minutes,
  SETTLE_WINDOW_DAYS: z.coerce.number().int().positive().max(LATENESS_RETENTION_DAYS),
};

type SettleVariables = { readonly [K in keyof typeof settleEnvironment]: string };
type SettleConfig = z.output<z.ZodObject<typeof settleEnvironment>>;

/** The variables a construct sets from the stage's settings. */
export const settleVariables = (settings: SettleSettings = DEFAULT_SETTLE_SETTINGS): SettleVariables => ({
  SETTLE_MINUTES: String(settings.settleMinutes),
  SETTLE_SHARE: String(settings.settleShare),
  SETTLE_MIN_MINUTES: String(settings.settleMinMinutes),
  SETTLE_MAX_MINUTES: String(settings.settleMaxMinutes),
  SETTLE_WINDOW_DAYS: String(settings.settleWindowDays),
});

/** The policy the variables say; bounds that cross fail, naming both variables. */
export function settlePolicyOf(config: SettleConfig): SettlePolicy {
  const windowDays = config.SETTLE_WINDOW_DAYS;
  // lib/config checks the stage's settings; this holds the functions to it whoever set the variables.
  if (config.SETTLE_MIN_MINUTES > config.SETTLE_MAX_MINUTES)
    throw new RangeError(
      `SETTLE_MIN_MINUTES (${config.SETTLE_MIN_MINUTES}) must not exceed SETTLE_MAX_MINUTES (${config.SETTLE_MAX_MINUTES})`,
    );
  return config.SETTLE_MINUTES === 'auto'
    ? {
        mode: 'auto',
        share: config.SETTLE_SHARE,
        minMs: config.SETTLE_MIN_MINUTES * 60_000,
        maxMs: config.SETTLE_MAX_MINUTES * 60_000,
        windowDays,
      }
    : { mode: 'fixed', ms: config.SETTLE_MINUTES * 60_000, windowDays };
}

/** The longest settle time a policy gives: the fixed one, or `auto`'s maximum. */
export const longestSettleMs = (policy: SettlePolicy): number =>
  policy.mode === 'fixed' ? policy.ms : policy.maxMs;
