import type { OrderEvent, PageViewEvent } from '../events';

export const DEMO_COUNTRIES = ['US', 'DE', 'FR', 'JP', 'BR', 'IN'] as const;
const PRODUCTS = ['starter', 'pro', 'team', 'enterprise'] as const;
/** Relative weights: the US sells most, Brazil least, so the group selector shows different curves. */
const COUNTRY_WEIGHTS = [30, 18, 14, 12, 8, 18];
const PRODUCT_PRICES = [900, 2_900, 9_900, 49_900];

/** Deterministic pseudo-random numbers (mulberry32): the same seed gives the same events. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface OrderGeneratorOptions {
  /** @default 1 */
  readonly seed?: number;
  /** Prefix of every event id, so separate runs do not collide. @default a random one */
  readonly idPrefix?: string;
  /** Event time of each event; the default is now. */
  readonly time?: (index: number) => number;
  /** Share (0..1) of events sent again with the same id, as a producer retry would. @default 0 */
  readonly duplicates?: number;
  /** Share (0..1) of events whose event time is `lateByMs` before their time. @default 0 */
  readonly late?: number;
  /** @default 2 hours */
  readonly lateByMs?: number;
  /** Share (0..1) of records that break the order schema. @default 0 */
  readonly invalid?: number;
}

/** An event as sent: its catalog's fields and its `type`, the catalog's name. */
export type Sent<E, T extends string> = E & { readonly type: T };

/** A generated record: an event as sent, or (when `invalid`) something its catalog refuses. */
export type GeneratedRecord<E = Sent<OrderEvent, 'order'>> =
  | { readonly kind: 'valid' | 'duplicate' | 'late'; readonly event: E }
  | { readonly kind: 'invalid'; readonly event: Record<string, unknown> };

function weighted(random: () => number, weights: readonly number[]): number {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  let pick = random() * total;
  for (let index = 0; index < weights.length; index++) {
    pick -= weights[index] as number;
    if (pick < 0) return index;
  }
  return weights.length - 1;
}

/** Invalid in a different way each time, so quarantine reasons name different fields. */
const INVALID_SHAPES = [
  (event: OrderEvent) => ({ ...event, amount: -event.amount }),
  (event: OrderEvent) => ({ ...event, status: 'lost' }),
  (event: OrderEvent) => ({ ...event, ts: 'yesterday' }),
  ({ amount: _amount, ...event }: OrderEvent) => event,
];

/**
 * An endless supply of order events (`type: 'order'`): mostly paid, some refunded or pending, amounts by
 * product, with duplicates, late and invalid records mixed in at the rates asked for.
 */
export function* generateOrders(options: OrderGeneratorOptions = {}): Generator<GeneratedRecord> {
  const random = seededRandom(options.seed ?? 1);
  const prefix = options.idPrefix ?? `o-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
  const lateByMs = options.lateByMs ?? 2 * 3_600_000;
  let last: Sent<OrderEvent, 'order'> | undefined;
  for (let index = 0; ; index++) {
    if (last !== undefined && random() < (options.duplicates ?? 0)) {
      yield { kind: 'duplicate', event: { ...last } };
      continue;
    }
    const product = Math.floor(random() * PRODUCTS.length);
    const status = random();
    const isLate = random() < (options.late ?? 0);
    const time = options.time?.(index) ?? Date.now();
    const event: Sent<OrderEvent, 'order'> = {
      type: 'order',
      id: `${prefix}-${index}`,
      ts: isLate ? Math.max(0, time - lateByMs - Math.floor(random() * lateByMs)) : time,
      customer: `c${Math.floor(random() * 5_000)}`,
      country: DEMO_COUNTRIES[weighted(random, COUNTRY_WEIGHTS)] as string,
      product: PRODUCTS[product] as string,
      amount: (PRODUCT_PRICES[product] as number) + Math.floor(random() * 100),
      ...(random() < 0.2 ? { discount: 100 * (1 + Math.floor(random() * 5)) } : {}),
      status: status < 0.85 ? 'paid' : status < 0.95 ? 'refunded' : 'pending',
    };
    if (random() < (options.invalid ?? 0)) {
      const shape = INVALID_SHAPES[index % INVALID_SHAPES.length] as (event: OrderEvent) => object;
      yield { kind: 'invalid', event: shape(event) as Record<string, unknown> };
      continue;
    }
    last = event;
    yield { kind: isLate ? 'late' : 'valid', event };
  }
}

const PATHS = ['/', '/pricing', '/docs', '/signup', '/blog', '/checkout'] as const;
/** The home page and the docs draw most views. */
const PATH_WEIGHTS = [30, 12, 25, 8, 15, 10];

/** Invalid page views, each in another way: the quarantine shows an unknown type too. */
const INVALID_PAGE_VIEWS = [
  ({ path: _path, ...event }: Sent<PageViewEvent, 'page_view'>) => event,
  (event: Sent<PageViewEvent, 'page_view'>) => ({ ...event, path: '' }),
  (event: Sent<PageViewEvent, 'page_view'>) => ({ ...event, type: 'click' }),
  ({ type: _type, ...event }: Sent<PageViewEvent, 'page_view'>) => event,
];

/**
 * An endless supply of page views (`type: 'page_view'`): sessions of a few views each, over a handful of
 * paths and the demo's countries, with duplicates, late and invalid records at the rates asked for.
 */
export function* generatePageViews(
  options: OrderGeneratorOptions = {},
): Generator<GeneratedRecord<Sent<PageViewEvent, 'page_view'>>> {
  const random = seededRandom(options.seed ?? 1);
  const prefix = options.idPrefix ?? `v-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
  const lateByMs = options.lateByMs ?? 2 * 3_600_000;
  let last: Sent<PageViewEvent, 'page_view'> | undefined;
  let session = '';
  let country = '';
  for (let index = 0; ; index++) {
    if (last !== undefined && random() < (options.duplicates ?? 0)) {
      yield { kind: 'duplicate', event: { ...last } };
      continue;
    }
    // A new session about every fourth view.
    if (index === 0 || random() < 0.25) {
      session = `s${Math.floor(random() * 100_000)}`;
      country = DEMO_COUNTRIES[weighted(random, COUNTRY_WEIGHTS)] as string;
    }
    const isLate = random() < (options.late ?? 0);
    const time = options.time?.(index) ?? Date.now();
    const event: Sent<PageViewEvent, 'page_view'> = {
      type: 'page_view',
      id: `${prefix}-${index}`,
      ts: isLate ? Math.max(0, time - lateByMs - Math.floor(random() * lateByMs)) : time,
      session,
      path: PATHS[weighted(random, PATH_WEIGHTS)] as string,
      country,
    };
    if (random() < (options.invalid ?? 0)) {
      const shape = INVALID_PAGE_VIEWS[index % INVALID_PAGE_VIEWS.length] as (
        event: Sent<PageViewEvent, 'page_view'>,
      ) => object;
      yield { kind: 'invalid', event: shape(event) as Record<string, unknown> };
      continue;
    }
    last = event;
    yield { kind: isLate ? 'late' : 'valid', event };
  }
}

/** Page views per order in the demo's mixed stream. */
export const DEMO_PAGE_VIEWS_PER_ORDER = 3;

/**
 * The demo's stream of both catalogs, mixed: an order, then DEMO_PAGE_VIEWS_PER_ORDER page views, and
 * again; each generator with the options given (its own ids).
 */
export function* generateDemoEvents(
  options: OrderGeneratorOptions = {},
): Generator<GeneratedRecord<Sent<OrderEvent, 'order'> | Sent<PageViewEvent, 'page_view'>>> {
  const orders = generateOrders(options);
  const views = generatePageViews({ ...options, seed: (options.seed ?? 1) + 1 });
  for (;;) {
    yield orders.next().value as GeneratedRecord;
    for (let view = 0; view < DEMO_PAGE_VIEWS_PER_ORDER; view++)
      yield views.next().value as GeneratedRecord<Sent<PageViewEvent, 'page_view'>>;
  }
}

/** Takes the next `count` records of a generator. */
export function take<T>(source: Iterator<T>, count: number): T[] {
  const taken: T[] = [];
  for (let index = 0; index < count; index++) {
    const next = source.next();
    if (next.done) break;
    taken.push(next.value);
  }
  return taken;
}

export interface DemoOptions {
  /** The API the events are posted to (the local one, or a deployed one). */
  readonly apiUrl: string;
  /** Events per second. @default 20 */
  readonly rate?: number;
  readonly apiKey?: string;
  /** Called when a post fails; the demo keeps going. */
  readonly onError?: (error: Error) => void;
}

export interface Demo {
  /** Events the API accepted so far. */
  readonly accepted: number;
  /** Stops posting, after the post in flight. */
  stop(): Promise<void>;
}

/**
 * Posts, a few times a second, the events due at `rate` per second, orders and page views mixed
 * (`generateDemoEvents`): a live feed for the dashboard.
 */
export function startDemo(options: DemoOptions): Demo {
  const rate = options.rate ?? 20;
  // A little duplication and lateness, so batch runs visibly correct the speed layer.
  const events = generateDemoEvents({ seed: Date.now(), duplicates: 0.01, late: 0.01, lateByMs: 3_600_000 });
  const tickMs = 250;
  let accepted = 0;
  let due = 0;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const post = async (events: unknown[]) => {
    const response = await fetch(new URL('events', `${options.apiUrl.replace(/\/?$/, '/')}`), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}),
      },
      body: JSON.stringify(events),
    });
    const answer = (await response.json()) as { accepted?: number };
    if (response.status !== 202) throw new Error(`POST /events answered ${response.status}`);
    accepted += answer.accepted ?? 0;
  };
  const timer = setInterval(() => {
    due += (rate * tickMs) / 1000;
    const count = Math.min(500, Math.floor(due));
    if (count === 0 || stopped) return;
    due -= count;
    const batch = take(events, count).map((record) => record.event);
    inFlight = inFlight.then(() =>
      post(batch).catch((error: Error) => options.onError?.(error) ?? undefined),
    );
  }, tickMs);
  return {
    get accepted() {
      return accepted;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}
