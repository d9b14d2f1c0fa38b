/** How batch rows are stored: many to an item, gzip JSON, so a day is read or written in a few requests. */

import { gunzipSync, gzipSync } from 'node:zlib';
import type { GroupValue, MeasureValue, ViewRow } from '../../core';
import { DYNAMO_ITEM_LIMIT_BYTES } from '../dynamo-rows';

/**
 * What a packed item may measure: DynamoDB refuses items over 400 KB, attribute names included; the
 * margin covers what `itemBytes` can only estimate (numbers) and keeps well clear of the limit.
 */
export const MAX_PACKED_ITEM_BYTES = DYNAMO_ITEM_LIMIT_BYTES - 50 * 1024;

/** The most raw JSON bytes per packed byte a pack is sized for: bounds the text gzipped per attempt. */
const MAX_PACK_RATIO = 32;

/**
 * Packs rows (each the JSON text of one row) into gzip JSON arrays of at most `budget` bytes each, as
 * measured after gzip. How well rows compress is learned from each pack to size the next one: short
 * group values compress about 10:1, long random ones hardly at all, so a fixed row count cannot fit both.
 */
export function packRows(rows: readonly string[], budget: number): Buffer[] {
  const lengths = rows.map((row) => Buffer.byteLength(row));
  const packs: Buffer[] = [];
  let ratio = 4;
  for (let start = 0; start < rows.length; ) {
    let end = start + 1;
    let raw = 2 + (lengths[start] as number);
    while (end < rows.length && raw + 1 + (lengths[end] as number) <= budget * ratio) {
      raw += 1 + (lengths[end] as number);
      end++;
    }
    for (;;) {
      const text = `[${rows.slice(start, end).join(',')}]`;
      const packed = gzipSync(text);
      if (packed.byteLength <= budget) {
        packs.push(packed);
        // Aim the next pack a little under the budget, so that it rarely needs a second try.
        ratio = Math.max(1, Math.min(MAX_PACK_RATIO, (0.95 * Buffer.byteLength(text)) / packed.byteLength));
        start = end;
        break;
      }
      if (end - start === 1)
        throw new RangeError(
          `a row packs to ${packed.byteLength} bytes: over the ${budget} an item has room for`,
        );
      // Fewer rows, in proportion to the overshoot, with some to spare.
      end = start + Math.max(1, Math.floor(((end - start) * 0.9 * budget) / packed.byteLength));
    }
  }
  return packs;
}

/** A row as packed: its bucket, its group and its measures' values (in `measures` order) as decimal text. */
type PackedRow = [bucket: number, group: GroupValue[], values: (string | null)[]];

/** The JSON text of one row in a pack. */
export const packedRow = (row: ViewRow, measures: readonly string[]): string =>
  JSON.stringify([row.bucket, row.group, measures.map((name) => row.values[name]?.toString() ?? null)]);

/** The rows of one pack, their measures named by `measures`. */
export function unpackRows(packed: Uint8Array, measures: readonly string[]): ViewRow[] {
  const rows = JSON.parse(gunzipSync(packed).toString('utf8')) as PackedRow[];
  return rows.map(([bucket, group, values]) => {
    const measureValues: Record<string, MeasureValue> = {};
    measures.forEach((name, index) => {
      const value = values[index];
      measureValues[name] = value === null || value === undefined ? null : BigInt(value);
    });
    return { bucket, group, values: measureValues };
  });
}
