/** A map that keeps its `capacity` most recently used entries: a Map's order is its eviction order. */
export class Lru<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) this.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Forgets `key` if `value` is still what it holds. */
  deleteIf(key: string, value: V): void {
    if (this.entries.get(key) === value) this.entries.delete(key);
  }
}

/**
 * The promise `cache` keeps for `key`, or `compute()` kept in its place: computed once, shared by every
 * asker. A rejected promise is forgotten, so the next ask computes again.
 */
export function computeOnce<T>(cache: Lru<Promise<T>>, key: string, compute: () => Promise<T>): Promise<T> {
  const kept = cache.get(key);
  if (kept !== undefined) return kept;
  const computing = compute();
  cache.set(key, computing);
  computing.catch(() => cache.deleteIf(key, computing));
  return computing;
}
