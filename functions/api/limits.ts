import { BUCKET_WIDTH_MS } from '../core';

/** What one request may ask for and one answer may carry. */

/** At most this many buckets per series answer. */
export const MAX_SERIES_BUCKETS = 5_000;
/** At most this much time per series, top or export request: what bounds the days read. */
export const MAX_RANGE_MS = 400 * BUCKET_WIDTH_MS.day;
export const MAX_EVENTS_PER_REQUEST = 500;
export const MAX_TOP_LIMIT = 1_000;
/** Drift reports per view per answer. */
export const MAX_DRIFT_REPORTS = 100;
/** At most this many reports per `GET /data-quality`: a report of 100 long ids is up to ~230 KB of answer. */
export const MAX_DATA_QUALITY_REPORTS = 20;
/** Quarantined records per answer. */
export const MAX_QUARANTINE_LISTED = 500;
/** Base64 characters of a quarantined record's data per answer (6 KB of data; a multiple of 4). */
export const MAX_QUARANTINE_DATA_CHARS = 8_192;
/** Request bodies above this are refused before parsing. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The largest answer a route sends, counted as Lambda counts it, on the proxy result's JSON: a result
 * over 6 MB (6,291,456 bytes) is refused, and API Gateway answers 502. 64 KiB are left for the status
 * and headers around the body.
 */
export const MAX_ANSWER_BYTES = 6 * 1024 * 1024 - 64 * 1024;

/**
 * Bytes a body takes as the proxy result's `body` string, quotes included: each `"` and `\` is escaped
 * (2 bytes), each control character too (`\n` 2 bytes, `\u00XX` 6); every other byte stays one.
 */
export function proxyBodyBytes(body: Uint8Array): number {
  let bytes = 2 + body.byteLength;
  for (const byte of body) {
    if (byte === 0x22 || byte === 0x5c) bytes += 1;
    else if (byte < 0x20)
      bytes += byte === 0x08 || byte === 0x09 || byte === 0x0a || byte === 0x0c || byte === 0x0d ? 1 : 5;
  }
  return bytes;
}

/** Bytes of a binary body in the proxy result: base64, quotes included. */
export const base64BodyBytes = (bytes: number): number => 2 + 4 * Math.ceil(bytes / 3);

/** Restatements per page of `GET /views/{name}/restatements`: a few hundred bytes each, far under an answer's limit. */
export const MAX_RESTATEMENTS_PAGE = 1_000;
