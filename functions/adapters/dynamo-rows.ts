import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { GroupValue, MeasureValue, ViewDefinition, ViewRow } from '../core';

/** How a speed row is stored: one item per row. Numbers stay exact: DynamoDB keeps 38 digits. */
export const BUCKET_ATTRIBUTE = 'bucket';
export const GROUP_ATTRIBUTE = 'grp';
export const measureAttribute = (name: string): string => `m_${name}`;

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
