import { describe, expect, it } from 'vitest';
import { catalogs, orderEvents } from '../../events';
import { defineView, fieldsOf, sum } from '../../functions/core';
import { ViewDefinitionError } from '../../functions/core/errors';
import { definitionHash, viewDocument, viewFromDocument } from '../../functions/core/view-document';
import { views } from '../../views';

const order = fieldsOf(orderEvents);

describe('view documents', () => {
  it('round-trips every demo view through JSON to an equal view with the same hash', () => {
    for (const view of views) {
      const document = JSON.parse(JSON.stringify(viewDocument(view)));
      const back = viewFromDocument(document, catalogs);
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
      catalogs,
    );
    expect(definitionHash(reordered)).toBe(definitionHash(a));
    expect(definitionHash(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a document of a catalog that is gone, or ill-typed over the catalog it names, naming the field', () => {
    const [first] = views;
    if (first === undefined) throw new Error('no demo view');
    const document = viewDocument(first);
    expect(() => viewFromDocument({ ...document, catalog: 'refund' }, catalogs)).toThrow(
      /catalog: names refund, which is not an event catalog: one of order, page_view/,
    );
    // Over the page views, the revenue's fields do not exist.
    expect(() => viewFromDocument({ ...document, catalog: 'page_view' }, catalogs)).toThrow(
      ViewDefinitionError,
    );
    expect(() => viewFromDocument({ ...document, groupBy: ['amount'] }, catalogs)).toThrow(/groupBy\.0/);
  });

  it('builds a stored document over the catalog it names', () => {
    const pageViews = views.find((view) => view.events.name === 'page_view');
    if (pageViews === undefined) throw new Error('no page-view demo view');
    expect(viewFromDocument(viewDocument(pageViews), catalogs).events).toBe(catalogs.get('page_view'));
  });
});
