import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { defineView, fieldsOf, sum } from '../../functions/core';
import { ViewDefinitionError } from '../../functions/core/errors';
import { definitionHash, viewDocument, viewFromDocument } from '../../functions/core/view-document';
import { views } from '../../views';

const order = fieldsOf(orderEvents);

describe('view documents', () => {
  it('round-trips every demo view through JSON to an equal view with the same hash', () => {
    for (const view of views) {
      const document = JSON.parse(JSON.stringify(viewDocument(view)));
      const back = viewFromDocument(document, orderEvents);
      expect(back).toEqual(view);
      expect(definitionHash(back)).toBe(definitionHash(view));
    }
  });

  it('hashes a changed rule differently, and the same definition written in another key order the same', () => {
    const base = { name: 'r', version: 1, bucket: 'hour' as const, groupBy: ['country' as const] };
    const a = defineView(orderEvents, { ...base, measures: { revenue: sum(order.amount) } });
    const b = defineView(orderEvents, { ...base, measures: { revenue: sum(order.amount.minus(1)) } });
    expect(definitionHash(a)).not.toBe(definitionHash(b));
    const reordered = viewFromDocument(
      Object.fromEntries(Object.entries(viewDocument(a)).reverse()) as ReturnType<typeof viewDocument>,
      orderEvents,
    );
    expect(definitionHash(reordered)).toBe(definitionHash(a));
    expect(definitionHash(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a document of another catalog, or an ill-typed one, naming the field', () => {
    const [first] = views;
    if (first === undefined) throw new Error('no demo view');
    const document = viewDocument(first);
    expect(() => viewFromDocument({ ...document, catalog: 'page_view' }, orderEvents)).toThrow(
      ViewDefinitionError,
    );
    expect(() => viewFromDocument({ ...document, groupBy: ['amount'] }, orderEvents)).toThrow(/groupBy\.0/);
  });
});
