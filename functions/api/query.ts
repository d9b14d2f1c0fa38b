/** Query parameters the routes share, as schemas, and what a view's routes make of them. */
import { z } from 'zod';
import {
  BUCKET_WIDTH_MS,
  type BucketWidth,
  codePointLength,
  type GroupFilter,
  type ViewDefinition,
} from '../core';
import { bucketStart, isBucketBoundary } from '../core/keys';
import type { TimeRange } from '../core/watermark';
import { MAX_RANGE_MS } from './limits';
import { badParameter } from './params';

export const STEPS = Object.keys(BUCKET_WIDTH_MS) as [BucketWidth, ...BucketWidth[]];

/** `limit`: how many, from 1 to `max`; `fallback` when not given. */
export function limitQuery(fallback: number, max: number) {
  const error = `an integer from 1 to ${max}`;
  return z.coerce
    .number({ error })
    .int({ error })
    .min(1, { error })
    .max(max, { error })
    .default(fallback)
    .meta({ description: `How many; ${fallback} unless given.` });
}

/** `step`: the width of each bucket answered; the route takes the view's own when it is not given. */
export const stepQuery = z
  .enum(STEPS, { error: (issue) => `${JSON.stringify(issue.input)} is not one of ${STEPS.join(', ')}` })
  .optional()
  .meta({
    description:
      "The view's bucket (the default) or a coarser width its buckets tile; a view with a distinct measure only its bucket (distinct counts do not add).",
  });

/** `exact`: only the buckets below the watermark. */
export const exactQuery = z
  .enum(['true', 'false'], { error: (issue) => `${JSON.stringify(issue.input)} is not true or false` })
  .optional()
  .transform((exact) => exact === 'true')
  .meta({ description: 'Only buckets below W.' });

/** [from, to) widened to whole steps; from before to, and at most MAX_RANGE_MS apart. */
export function stepRange(range: TimeRange, step: BucketWidth): TimeRange {
  const from = bucketStart(range.from, step);
  const to = isBucketBoundary(range.to, step)
    ? range.to
    : bucketStart(range.to, step) + BUCKET_WIDTH_MS[step];
  if (from >= to) throw badParameter('to', `must be after from (${from} >= ${to})`);
  if (to - from > MAX_RANGE_MS)
    throw badParameter('to', `from..to spans more than ${MAX_RANGE_MS / BUCKET_WIDTH_MS.day} days`);
  return { from, to };
}

/** The group filters: every query parameter a route does not declare must be a group field of the view. */
export function groupFilter(
  view: ViewDefinition,
  others: readonly (readonly [name: string, value: string])[],
): GroupFilter {
  const filter: Record<string, string> = {};
  for (const [name, value] of others) {
    if (!view.groupBy.includes(name))
      throw badParameter(
        name,
        `unknown parameter: not a group field of view ${view.name} (${view.groupBy.join(', ') || 'none'})`,
      );
    if (Object.hasOwn(filter, name)) throw badParameter(name, 'given more than once');
    const rule = view.events.rules[name];
    // A value no event can hold is a mistake worth naming, not an empty answer.
    if (rule?.type === 'string' && codePointLength(value) > rule.maxLength)
      throw badParameter(name, `longer than the ${rule.maxLength} characters ${name} holds`);
    filter[name] = value;
  }
  return filter;
}
