/**
 * Parsers of option values, as commander calls them: each answers the value or throws commander's
 * InvalidArgumentError, which commander prints as one line naming the option.
 */
import type { LogLevelThreshold } from '@aws-lambda-powertools/logger';
import { InvalidArgumentError, Option } from 'commander';
import { runsPerMonth, WorkloadError } from '../../cost/model';
import { PRICED_REGION } from '../../cost/prices';
import { viewsOfShapes } from '../../cost/views';
import { MAX_BATCHING_WINDOW_SECONDS } from '../../functions/commons/layout';
import type { ViewDefinition } from '../../functions/core';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** `30s`, `5m`, `1h`, `2d`, `500ms`, `0s`: a duration in milliseconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (match === null)
    throw new InvalidArgumentError(`a duration like 30s, 5m or 1h, not ${JSON.stringify(text)}`);
  return Math.round(Number(match[1]) * (UNITS[match[2] as string] as number));
}

/** The settle time: whole minutes, as the stage's `settleMinutes` the local run synthesizes with, or `auto`. */
export function parseSettle(text: string): number | 'auto' {
  if (text.trim() === 'auto') return 'auto';
  const ms = parseDuration(text);
  if (ms % 60_000 !== 0)
    throw new InvalidArgumentError(
      `whole minutes (the stage's settleMinutes), e.g. 0s, 1m or 15m, or auto, not ${JSON.stringify(text)}`,
    );
  return ms;
}

/** A time given relative to `now`: evaluated in the action, so that both ends of a range share one now. */
export type Instant = (now: number) => number;

/** `now`, `-2h` (two hours ago), epoch milliseconds or ISO 8601. */
export function parseInstant(text: string): Instant {
  if (text === 'now') return (now) => now;
  if (/^\d+$/.test(text)) return () => Number(text);
  if (text.startsWith('-') && DURATION.test(text.slice(1))) {
    const ago = parseDuration(text.slice(1));
    return (now) => now - ago;
  }
  // Any other leading '-' is a mistyped duration: Date.parse would read '-5' as the year -5.
  const parsed = text.startsWith('-') ? Number.NaN : Date.parse(text);
  if (Number.isNaN(parsed))
    throw new InvalidArgumentError('now, -2h (two hours ago), epoch ms or ISO 8601, e.g. -1d');
  return () => parsed;
}

/** A time option (`--from`, `--to`), its default written as a user would write it. */
export function instantOption(flags: string, description: string, byDefault?: string): Option {
  const option = new Option(flags, description).argParser(parseInstant);
  return byDefault === undefined ? option : option.default(parseInstant(byDefault), byDefault);
}

const number = (text: string, valid: (value: number) => boolean, expected: string): number => {
  const value = Number(text);
  if (text.trim() === '' || !valid(value)) throw new InvalidArgumentError(expected);
  return value;
};

export const parseRate = (text: string): number =>
  number(text, (value) => Number.isFinite(value) && value >= 0, 'a number of events per second');

export const parseShare = (text: string): number =>
  number(text, (value) => value >= 0 && value <= 1, 'a share from 0 to 1');

export const parseCount = (text: string): number =>
  number(text, (value) => Number.isInteger(value) && value >= 0, 'a whole number');

export const parsePort = (text: string): number =>
  number(text, (value) => Number.isInteger(value) && value >= 0 && value <= 65_535, 'a port from 0 to 65535');

/** The logger's levels: tsc checks them against Powertools' own list. */
const LOG_LEVELS = [
  'TRACE',
  'DEBUG',
  'INFO',
  'WARN',
  'ERROR',
  'CRITICAL',
  'SILENT',
] as const satisfies readonly (keyof typeof LogLevelThreshold)[];
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log level, in any case (as the logger takes them). */
export function parseLogLevel(text: string): LogLevel {
  const level = LOG_LEVELS.find((candidate) => candidate === text.toUpperCase());
  if (level === undefined) throw new InvalidArgumentError(`one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

/** One `-g field=value`, added to those before it. */
export function collectFilter(
  text: string,
  filters: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const at = text.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('field=value, e.g. country=US');
  return { ...filters, [text.slice(0, at)]: text.slice(at + 1) };
}

export const parsePositive = (text: string): number =>
  number(text, (value) => Number.isFinite(value) && value > 0, 'a number above 0');

export const parsePositiveCount = (text: string): number =>
  number(text, (value) => Number.isInteger(value) && value >= 1, 'a whole number from 1');

/** The speed mapping's batching window: whole seconds, 0 to Lambda's 300, in seconds. */
export function parseBatchingWindow(text: string): number {
  const ms = parseDuration(text);
  if (ms % 1000 !== 0 || ms > MAX_BATCHING_WINDOW_SECONDS * 1000)
    throw new InvalidArgumentError(`whole seconds from 0s to ${MAX_BATCHING_WINDOW_SECONDS}s, e.g. 1s`);
  return ms / 1000;
}

/** Runs a cost-model parser: its WorkloadError becomes commander's one-line argument error. */
function workloadArgument<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof WorkloadError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

/** A batch schedule whose runs the cost model counts: `rate(N unit)`, or a cron that runs every day. */
export const parseBatchSchedule = (text: string): string =>
  workloadArgument(() => {
    runsPerMonth(text);
    return text;
  });

/** `demo` (the views of views.ts), or view shapes: `hour:country,minute:status+product`. */
export const parseViewShapes = (text: string): ViewDefinition[] =>
  workloadArgument(() => viewsOfShapes(text));

/** The one region whose prices cost/prices.ts holds. */
export function parseRegion(text: string): string {
  if (text !== PRICED_REGION)
    throw new InvalidArgumentError(`${PRICED_REGION}: the only region priced (cost/prices.ts)`);
  return text;
}
