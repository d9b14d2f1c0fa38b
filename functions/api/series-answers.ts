import { gzipSync } from 'node:zlib';
import { BadRequestError } from '@aws-lambda-powertools/event-handler/http';
import type { Manifest } from '../adapters/dynamo-batch-store';
import {
  BUCKET_WIDTH_MS,
  type BucketWidth,
  type GroupFilter,
  hasDistinctMeasure,
  rollUpSeries,
  type SeriesBucket,
  type ViewDefinition,
} from '../core';
import { servedWatermark, settledStepsEnd, type TimeRange } from '../core/watermark';
import { base64BodyBytes, MAX_ANSWER_BYTES, proxyBodyBytes } from './limits';
import { computeOnce, Lru } from './lru';
import { STEPS } from './query';
import type { Answer } from './route';
import { SingleFlight } from './single-flight';
import type { ViewReader } from './view-reader';

/** Settled series parts kept, and last answers: each a few KB to a few MB. */
const ANSWERS_CACHED = 200;

export interface SeriesQuestion {
  readonly view: ViewDefinition;
  readonly step: BucketWidth;
  /** Whole steps. */
  readonly range: TimeRange;
  readonly exact: boolean;
  readonly filter: GroupFilter;
}

export const batchRunOf = (manifest: Manifest | null) =>
  manifest === null ? null : { id: manifest.lastRunId, committedAt: manifest.committedAt };

/** An answer's bytes in an ArrayBuffer of their own, as the router takes a binary body. */
const ownBuffer = (bytes: Uint8Array): ArrayBuffer => new Uint8Array(bytes).buffer;

/**
 * A 400 for a series whose answer would pass MAX_ANSWER_BYTES, saying how to ask for less. `to` is
 * named: a shorter range is the first way.
 */
function seriesTooLarge(view: ViewDefinition, step: BucketWidth, bytes: number) {
  // A view with a distinct measure is served at its own bucket only: no coarser step to offer.
  const coarser = hasDistinctMeasure(view)
    ? []
    : STEPS.filter((candidate) => BUCKET_WIDTH_MS[candidate] > BUCKET_WIDTH_MS[step]);
  const ways = [
    'a shorter from..to',
    ...(coarser.length > 0 ? [`a coarser step (${coarser.join(', ')})`] : []),
    ...(view.groupBy.length > 0
      ? [`a group filter (${view.groupBy.map((field) => `${field}=...`).join(', ')})`]
      : []),
    `the largest groups from /views/${view.name}/top`,
  ];
  const megabytes = (n: number) => `${(n / 1_000_000).toFixed(1)} MB`;
  return new BadRequestError(
    `to: the answer would be ${megabytes(bytes)}, over the ${megabytes(MAX_ANSWER_BYTES)} an answer can carry; ask for less: ${ways.join(', ')}`,
    undefined,
    { parameter: 'to', answerBytes: bytes, maxAnswerBytes: MAX_ANSWER_BYTES },
  );
}

/** No buckets: one shared array, so an answer without a settled part is recognised as unchanged. */
const NO_BUCKETS: readonly SeriesBucket[] = Object.freeze([]);

/** An encoded answer, compressed and measured once, when first asked. */
class EncodedAnswer {
  readonly body: ArrayBuffer;
  private gzipped?: ArrayBuffer;
  private plainBytes?: number;

  constructor(bytes: Uint8Array) {
    this.body = ownBuffer(bytes);
  }

  gzip(): ArrayBuffer {
    this.gzipped ??= ownBuffer(gzipSync(this.body, { level: 6 }));
    return this.gzipped;
  }

  proxyBodyBytes(): number {
    this.plainBytes ??= proxyBodyBytes(new Uint8Array(this.body));
    return this.plainBytes;
  }
}

/**
 * Series answers. Steps wholly below the watermark are batch rows only, fixed until the next commit:
 * their buckets are kept per manifest revision. The steps from the watermark's on change with every
 * speed write: computed per request, shared by the requests that ask while they are computed.
 */
export class SeriesAnswers {
  private readonly settled = new Lru<Promise<readonly SeriesBucket[]>>(ANSWERS_CACHED);
  private readonly recent = new SingleFlight();
  /**
   * The last answer per question, with what it was made of: dashboards ask the same again and again, and
   * an answer from the same manifest revision, the same cached settled buckets and recent buckets of the
   * same text is not serialized, compressed or measured again.
   */
  private readonly last = new Lru<{
    readonly revision: number;
    readonly settled: readonly SeriesBucket[];
    readonly recentText: string;
    readonly encoded: EncodedAnswer;
  }>(ANSWERS_CACHED);

  constructor(
    private readonly reader: ViewReader,
    private readonly now: () => number,
  ) {}

  async answer(asked: SeriesQuestion, gzip: boolean): Promise<Answer> {
    // The version the manifest serves, which is the code's but while a new definition backfills.
    const { view: servedView, manifest } = await this.reader.served(asked.view);
    const question = { ...asked, view: servedView };
    const { view, step, range, exact, filter } = question;
    const watermark = servedWatermark(manifest);
    const settledTo = settledStepsEnd(range, step, watermark);
    const revision = manifest?.revision ?? 0;
    const [settled, recent] = await Promise.all([
      manifest === null || settledTo <= range.from
        ? NO_BUCKETS
        : computeOnce(
            this.settled,
            JSON.stringify([view.name, revision, range.from, settledTo, step, filter]),
            () => this.rollUp(question, { from: range.from, to: settledTo }, manifest),
          ),
      exact || settledTo >= range.to
        ? NO_BUCKETS
        : this.recent.run(JSON.stringify([view.name, revision, settledTo, range.to, step, filter]), () =>
            this.rollUp(question, { from: settledTo, to: range.to }, manifest),
          ),
    ]);
    const questionKey = JSON.stringify([view.name, view.version, step, range, exact, filter]);
    const recentText = JSON.stringify(recent);
    const kept = this.last.get(questionKey);
    let encoded: EncodedAnswer;
    if (kept?.revision === revision && kept.settled === settled && kept.recentText === recentText) {
      encoded = kept.encoded;
    } else {
      const buckets = [...settled, ...recent];
      const cited = buckets.flatMap(({ batchVersion }) => (batchVersion === undefined ? [] : [batchVersion]));
      const provenance = await this.reader.provenance(view.name, cited);
      const text = JSON.stringify({
        view: view.name,
        version: view.version,
        watermark,
        step,
        ...range,
        exact,
        batchRun: batchRunOf(manifest),
        buckets,
        provenance,
      });
      // Each character is a byte at least: an answer this long is refused before it is encoded.
      if (text.length > MAX_ANSWER_BYTES) throw seriesTooLarge(view, step, text.length);
      encoded = new EncodedAnswer(Buffer.from(text, 'utf8'));
      this.last.set(questionKey, { revision, settled, recentText, encoded });
    }
    // Refused here rather than by Lambda (a 502). The plain answer decides, so a question gets the same
    // answer with or without gzip; a gzipped one is checked too, as base64 (incompressible text grows).
    if (encoded.proxyBodyBytes() > MAX_ANSWER_BYTES)
      throw seriesTooLarge(view, step, encoded.proxyBodyBytes());
    if (gzip && base64BodyBytes(encoded.gzip().byteLength) > MAX_ANSWER_BYTES)
      throw seriesTooLarge(view, step, base64BodyBytes(encoded.gzip().byteLength));
    // A proxy result, not a Response: the router copies a Response to add its headers, body stream and all.
    const headers: Record<string, string> = gzip
      ? { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' }
      : { 'Content-Type': 'application/json' };
    return { statusCode: 200, headers, body: gzip ? encoded.gzip() : encoded.body };
  }

  private async rollUp(question: SeriesQuestion, part: TimeRange, manifest: Manifest | null) {
    const { view, step, filter } = question;
    const { rows, watermark } = await this.reader.read(view, part.from, part.to, this.now(), manifest);
    return rollUpSeries(view, rows, { step, watermark, filter, batchVersions: manifest?.days ?? {} });
  }
}
