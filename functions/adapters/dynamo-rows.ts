import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  type GroupValue,
  type MeasureValue,
  TABLE_ATTRIBUTES,
  type ViewDefinition,
  type ViewRow,
} from '../core';

/** How a view row is stored, the same in speed and batch items. Numbers stay exact: DynamoDB keeps 38 digits. */
export const BUCKET_ATTRIBUTE = 'bucket';
export const GROUP_ATTRIBUTE = 'grp';
export const measureAttribute = (name: string): string => `m_${name}`;

export function rowToItem(
  row: ViewRow,
  key: { pk: string; sk: string },
  extra: Record<string, AttributeValue> = {},
): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    [TABLE_ATTRIBUTES.partitionKey]: { S: key.pk },
    [TABLE_ATTRIBUTES.sortKey]: { S: key.sk },
    [BUCKET_ATTRIBUTE]: { N: String(row.bucket) },
    [GROUP_ATTRIBUTE]: { S: JSON.stringify(row.group) },
    ...extra,
  };
  for (const [name, value] of Object.entries(row.values)) {
    if (value !== null) item[measureAttribute(name)] = { N: value.toString() };
  }
  return item;
}

export function itemToRow(view: ViewDefinition, item: Record<string, AttributeValue>): ViewRow {
  const values: Record<string, MeasureValue> = {};
  for (const [name, measure] of Object.entries(view.measures)) {
    const stored = item[measureAttribute(name)]?.N;
    values[name] = stored === undefined ? (measure.kind === 'count' ? 0n : null) : BigInt(stored);
  }
  return {
    bucket: Number(item[BUCKET_ATTRIBUTE]?.N),
    group: JSON.parse(item[GROUP_ATTRIBUTE]?.S ?? '[]') as GroupValue[],
    values,
  };
}
