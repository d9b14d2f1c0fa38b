import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  DistinctSketch,
  type GroupValue,
  type MeasureValue,
  monoidOf,
  type ViewDefinition,
  type ViewRow,
} from '../core';

/** How a speed row is stored: one item per row. Numbers stay exact: DynamoDB keeps 38 digits. */
export const BUCKET_ATTRIBUTE = 'bucket';
export const GROUP_ATTRIBUTE = 'grp';
/** A measure's value; a distinct measure's is its sketch's estimate, rounded, written with the sketch. */
export const measureAttribute = (name: string): string => `m_${name}`;
/**
 * A distinct measure's encoded sketch (`DistinctSketch.encode`), a binary attribute: what merges read and
 * write (the source of truth); readers of values read `measureAttribute` instead, not decoding it.
 */
export const sketchAttribute = (name: string): string => `d_${name}`;
/** Bumped by every write of an item's sketches: a merge writes only over the version it read. */
export const SKETCH_VERSION_ATTRIBUTE = 'sv';

/** A stored sketch, or undefined when the item has none yet. */
export function storedSketch(item: Record<string, AttributeValue>, name: string): DistinctSketch | undefined {
  const encoded = item[sketchAttribute(name)]?.B;
  return encoded === undefined ? undefined : DistinctSketch.decode(encoded);
}

export function itemToRow(view: ViewDefinition, item: Record<string, AttributeValue>): ViewRow {
  const values: Record<string, MeasureValue> = {};
  for (const [name, measure] of Object.entries(view.measures)) {
    const stored = item[measureAttribute(name)]?.N;
    // An absent attribute holds the measure's zero: a count was never ADDed to, a sum or extreme never set,
    // a distinct measure never had a value (its estimate is written beside its sketch by every merge).
    values[name] = stored === undefined ? monoidOf(measure).zero : BigInt(stored);
  }
  return {
    bucket: Number(item[BUCKET_ATTRIBUTE]?.N),
    group: JSON.parse(item[GROUP_ATTRIBUTE]?.S ?? '[]') as GroupValue[],
    values,
  };
}

/** DynamoDB's limit on one item, attribute names included. */
export const DYNAMO_ITEM_LIMIT_BYTES = 400 * 1024;

/**
 * An item's size as DynamoDB counts it against its 400 KB limit: each attribute's name and value in
 * UTF-8, binaries raw, a number as its text (DynamoDB stores at most that: about one byte per two
 * digits), and 1 byte per list or map element on top of 3 per list or map.
 */
export function itemBytes(item: Readonly<Record<string, AttributeValue>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return value.N.length;
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, entry) => sum + Buffer.byteLength(entry), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, entry) => sum + entry.length, 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, entry) => sum + entry.byteLength, 0);
  if (value.L !== undefined) return value.L.reduce((sum, entry) => sum + 1 + valueBytes(entry), 3);
  if (value.M !== undefined) return itemBytes(value.M) + 3 + Object.keys(value.M).length;
  throw new TypeError(`no size for attribute value ${JSON.stringify(Object.keys(value))}`);
}
