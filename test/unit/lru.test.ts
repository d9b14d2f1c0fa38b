import { describe, expect, it } from 'vitest';
import { computeOnce, Lru } from '../../functions/api/lru';

describe('the LRU caches of the serving layer', () => {
  it('keeps the most recently used entries, a read counting as a use', () => {
    const cache = new Lru<number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
  });

  it('computes a key once for every asker, and again after the computation failed', async () => {
    const cache = new Lru<Promise<string>>(10);
    let computations = 0;
    const failing = () => {
      computations++;
      return Promise.reject(new Error('read failed'));
    };
    await expect(
      Promise.all([computeOnce(cache, 'k', failing), computeOnce(cache, 'k', failing)]),
    ).rejects.toThrow();
    expect(computations).toBe(1);
    await expect(computeOnce(cache, 'k', async () => 'rows')).resolves.toBe('rows');
    await expect(computeOnce(cache, 'k', async () => 'other')).resolves.toBe('rows');
  });
});
