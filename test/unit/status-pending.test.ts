import { describe, expect, it } from 'vitest';
import { pendingText } from '../../bin/cli/commands/status';

const SWITCH_FROM = Date.UTC(2026, 10, 25, 10, 4);
const pending = (daysDone: number | null, switchFrom: number | null) => ({
  version: 2,
  countingSince: switchFrom === null ? null : SWITCH_FROM - 200_000,
  switchFrom,
  speedRetentionEndsAt: SWITCH_FROM + 72 * 3_600_000,
  backfill:
    daysDone === null
      ? null
      : { daysDone, daysTotal: 744, loadedThrough: '2026-11-25', startedAt: SWITCH_FROM - 3_600_000 },
});

describe('driftless status: a pending definition', () => {
  it.each([
    ['nothing pending', null, '-'],
    ['planned, no load yet', pending(null, null), 'v2 planned'],
    ['loading', pending(300, SWITCH_FROM), 'v2 300/744 days'],
    [
      'loaded, awaiting the watermark',
      pending(744, SWITCH_FROM),
      'v2 744/744 days, awaits speed until 2026-11-25T10:04:00.000Z',
    ],
    ['loaded, not counted by speed', pending(744, null), 'v2 744/744 days, awaits speed (not counted yet)'],
  ])('%s', (_, given, text) => {
    expect(pendingText(given)).toBe(text);
  });
});
