/** Posting numbered events in requests of 500, reporting each refused one: `send` and `generate --post`. */
import { MAX_EVENTS_PER_REQUEST } from '../../functions/api/limits';
import type { DriftlessApi } from './client';
import { CliError } from './errors';
import { progress } from './output';

/** The most events one POST /events takes. */

/** One numbered line of `send` (a record of `generate --post`): an event to post, or refused before posting. */
export type Outgoing = { readonly number: number } & (
  | { readonly event: unknown }
  | { readonly refused: string }
);

export interface SendOptions {
  /** What a number counts, in what is printed: `line` or `record`. */
  readonly unit: 'line' | 'record';
  /** How to send the rest again, from this number on, after a failure; said after what was sent. */
  readonly resend?: (from: number) => string;
  /** How many refused ones to print. @default all */
  readonly listed?: number;
}

/** `refused`: never posted (not JSON); `rejected`: refused by the API. */
export interface SendTotals {
  sent: number;
  accepted: number;
  rejected: number;
  refused: number;
}

/**
 * Posts the events 500 at a time, showing progress, and prints each refused one on stderr by its number,
 * the reason beside it; goes on past refusals. A failure to post (or to read) is a CliError saying which
 * numbers were sent before it and where to resume. Answers the totals.
 */
export async function sendAll(
  api: DriftlessApi,
  items: AsyncIterable<Outgoing> | Iterable<Outgoing>,
  options: SendOptions,
): Promise<SendTotals> {
  const shown = progress();
  const totals: SendTotals = { sent: 0, accepted: 0, rejected: 0, refused: 0 };
  /** The last number whose outcome is known: everything up to it was sent or refused. */
  let done = 0;
  let listed = 0;
  let pending: Outgoing[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const posted = pending.flatMap((item) => ('event' in item ? [item] : []));
    const answer =
      posted.length === 0
        ? { accepted: 0, rejected: 0, errors: [] }
        : await api.postEvents(posted.map((item) => item.event));
    const reasons = new Map(
      pending.flatMap((item) => ('refused' in item ? [[item.number, item.refused]] : [])),
    );
    for (const error of answer.errors) {
      const item = posted[error.index];
      if (item !== undefined) reasons.set(item.number, error.message);
    }
    for (const [number, reason] of [...reasons].sort(([a], [b]) => a - b))
      if (listed++ < (options.listed ?? Number.POSITIVE_INFINITY))
        shown.done(`${options.unit} ${number}: ${reason}`);
    totals.sent += posted.length;
    totals.accepted += answer.accepted;
    totals.rejected += answer.rejected;
    totals.refused += pending.length - posted.length;
    done = (pending.at(-1) as Outgoing).number;
    pending = [];
    shown.update(
      `sent ${totals.sent}, accepted ${totals.accepted}, rejected ${totals.rejected + totals.refused}`,
    );
  };
  try {
    for await (const item of items) {
      pending.push(item);
      if (pending.length === MAX_EVENTS_PER_REQUEST) await flush();
    }
    await flush();
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    shown.done();
    throw new CliError(`${error.message}; ${sentBefore(done, totals, options)}`);
  }
  shown.done();
  return totals;
}

/** What was sent before a failure, and how to send the rest. */
function sentBefore(done: number, totals: SendTotals, { unit, resend }: SendOptions): string {
  if (done === 0) return 'nothing was sent';
  const refused = totals.rejected + totals.refused;
  return (
    `${unit}s 1 to ${done} were sent (${totals.accepted} accepted${refused > 0 ? `, ${refused} refused: listed above` : ''}); ` +
    `${unit}s from ${done + 1} on were not${resend ? `: ${resend(done + 1)}` : ''}`
  );
}
