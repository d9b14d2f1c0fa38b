/**
 * Work keyed by what it computes: callers that ask while the same work is under way share its result
 * instead of starting it again. Many dashboards asking the same thing cost one read, not one each; a
 * joined read started at most one read earlier than the caller asked.
 */
export class SingleFlight {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key) as Promise<T> | undefined;
    if (running !== undefined) return running;
    const started = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }
}
