import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { base64BodyBytes, proxyBodyBytes } from '../../functions/api/limits';
import { eventJsonSchema } from '../../functions/api/request-schemas';

describe('the size of an answer in its proxy result', () => {
  it('counts a text body as JSON writes it into the result, escapes and quotes included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        fc.pre(text.isWellFormed());
        // Act
        const counted = proxyBodyBytes(Buffer.from(text, 'utf8'));
        // Assess
        expect(counted).toBe(Buffer.byteLength(JSON.stringify(text), 'utf8'));
      }),
      { numRuns: 2_000 },
    );
  });

  it('counts a binary body as its base64 text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(base64BodyBytes(bytes.byteLength)).toBe(
          JSON.stringify(Buffer.from(bytes).toString('base64')).length,
        );
      }),
    );
  });
});

describe('the OpenAPI event schema', () => {
  const validate = new Ajv2020({ strict: false }).compile(eventJsonSchema(orderEvents));
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 70 }),
    fc
      .tuple(fc.constantFrom(15, 16, 17, 31, 32, 33, 63, 64, 65), fc.constantFrom('a', 'é', '😀'))
      .map(([length, unit]) => unit.repeat(length)),
  );
  const event = fc.record(
    {
      id: text,
      ts: fc.oneof(
        fc.integer({ min: orderEvents.timeRange.from - 2, max: orderEvents.timeRange.from + 2 }),
        fc.integer({ min: orderEvents.timeRange.to - 2, max: orderEvents.timeRange.to + 2 }),
      ),
      customer: fc.option(text),
      country: fc.option(text),
      product: fc.option(text),
      amount: fc.integer({ min: -2, max: 2 }),
      discount: fc.option(fc.integer({ min: -2, max: 2 })),
      status: fc.constantFrom('paid', 'lost', null),
    },
    { requiredKeys: [] },
  );

  it('accepts exactly the well-formed events the catalog accepts', () => {
    fc.assert(
      fc.property(event, (candidate) => {
        // JSON Schema cannot see lone surrogates; the catalog refuses them apart.
        fc.pre(Object.values(candidate).every((value) => typeof value !== 'string' || value.isWellFormed()));
        expect(validate(candidate)).toBe(orderEvents.accepts(candidate));
      }),
      { numRuns: 2_000 },
    );
  });
});
