// The driftless dashboard: one live chart per view, from the API's merged series. No framework: the API
// answers say, per bucket, whether it came from the batch or the speed layer, and where the watermark is.
import uPlot from './vendor/uplot/uPlot.esm.js';

const STORAGE = { apiUrl: 'driftless.apiUrl', apiKey: 'driftless.apiKey' };
const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** How much history each chart shows, by the view's bucket width. */
const WINDOW_MS = { minute: 90 * 60_000, hour: 48 * 3_600_000, day: 60 * 86_400_000 };
const params = new URLSearchParams(location.search);
// `#key=` keeps the key out of requests and server logs; `?key=` works too.
const fragment = new URLSearchParams(location.hash.slice(1));
const REFRESH_MS = Number(params.get('refresh') ?? 5_000);
const COLORS = { batch: '#2f6fdf', speed: '#f08c1a' };
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
/** Marks a value that is the speed layer's HyperLogLog estimate, not an exact count. */
const ESTIMATE_MARK = '≈';
/**
 * Marks a distinct count summed over groups: a value in two groups counts in each, so the sum is an upper
 * bound of the count (equal only when no value is in two groups).
 */
const UPPER_BOUND_MARK = '≤';
/** How many of the latest buckets a distinct measure lists as text, each exact or marked as an estimate. */
const LATEST_LISTED = 4;

const statusLine = document.getElementById('status');
const viewsElement = document.getElementById('views');
const apiUrlInput = document.getElementById('api-url');
const apiKeyInput = document.getElementById('api-key');

/** `?api=` first, then what was saved, then the server that served this page. */
function initialApiUrl() {
  const fromPage = location.protocol.startsWith('http') ? location.origin : '';
  return params.get('api') ?? localStorage.getItem(STORAGE.apiUrl) ?? fromPage;
}

/** `#key=` or `?key=` first (the link `npm start` prints), then what was saved. */
function initialApiKey() {
  return fragment.get('key') ?? params.get('key') ?? localStorage.getItem(STORAGE.apiKey) ?? '';
}

let connection = { url: initialApiUrl(), key: initialApiKey() };
apiUrlInput.value = connection.url;
apiKeyInput.value = connection.key;

async function api(path) {
  const base = connection.url.endsWith('/') ? connection.url : `${connection.url}/`;
  const response = await fetch(new URL(path.replace(/^\//, ''), base), {
    headers: connection.key ? { 'x-api-key': connection.key } : {},
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    // API Gateway's 403 for a missing or wrong key says only "Forbidden".
    const hint = response.status === 403 && body?.message === 'Forbidden' ? ': check the API key' : '';
    throw new Error(`${path.split('?')[0]}: ${response.status} ${body?.message ?? ''}${hint}`);
  }
  return body;
}

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', isError);
}

/** Measure values are integers: numbers, or decimal strings past 2^53. */
const bigIntOf = (value) => (value === null || value === undefined ? 0n : BigInt(value));
const timeText = (ms) => (ms > 0 ? new Date(ms).toISOString().replace('.000Z', 'Z') : 'none yet');

/** 90 s as `1.5m`, 7,200,000 ms as `2h`: the largest unit the duration reaches. */
function durationText(ms) {
  const units = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  const [unit, size] = units.find(([, size]) => Math.abs(ms) >= size) ?? ['ms', 1];
  return `${compact.format(ms / size)}${unit}`;
}

/** The lateness line: quantiles are bin edges (at least that share arrived sooner); null is past 7 days. */
function latenessText(lateness, settle) {
  const settleText = `settle ${settle.mode === 'auto' ? 'learned' : 'fixed'} ${durationText(settle.ms)}`;
  if (lateness.events === 0)
    return `lateness: no arrivals in the last ${lateness.windowDays} days · ${settleText}`;
  const under = (ms) => (ms === null ? 'over 7d' : `≤ ${durationText(ms)}`);
  const share = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 2 });
  return (
    `lateness over ${lateness.windowDays} days, ${lateness.events.toLocaleString()} events: ` +
    `p50 ${under(lateness.p50Ms)} · p99 ${under(lateness.p99Ms)} · p99.9 ${under(lateness.p999Ms)} · ` +
    `${share.format(lateness.lateAfterExactShare)} arrived after their bucket was exact (restated) · ${settleText}`
  );
}

/** A bucket's start, short: `06-01 13:00` (UTC). */
const bucketText = (ms) => new Date(ms).toISOString().slice(5, 16).replace('T', ' ');

/** `±6.5%`: a relative error bound as a percentage. */
const boundText = (ratio) =>
  `±${new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 }).format(ratio)}`;

/**
 * The legend of a view with a distinct measure: its speed buckets carry HyperLogLog estimates within the
 * stated bound (`GET /views`' `distinct`: the larger of `errorBound` and `errorSlack` values, for all but
 * `overBoundShare` of buckets); its batch buckets, below the watermark, exact counts.
 */
const estimateLegend = (distinct) =>
  `${ESTIMATE_MARK} estimate (HyperLogLog, ${boundText(distinct.errorBound)} or ±${distinct.errorSlack}, ` +
  `whichever is more, for all but about 1 in ${Math.round(1 / distinct.overBoundShare).toLocaleString('en')} buckets): ` +
  `${distinct.measures.join(', ')} from the watermark on; exact below it. Distinct counts do not add across ` +
  `buckets or groups: one group is charted, ${UPPER_BOUND_MARK} marks a sum over groups (an upper bound).`;

/** The "all" choice of a group selector: for a distinct measure, a sum over groups, marked as an upper bound. */
const allGroupsText = (distinct) => (distinct ? `all (${UPPER_BOUND_MARK} sum, an upper bound)` : 'all');

/** One view's panel: controls, chart, summary; refreshes itself from the series endpoint. */
class ViewPanel {
  constructor(view) {
    this.view = view;
    this.groupValues = new Map(view.groupBy.map((field) => [field, new Set()]));
    this.section = document.createElement('section');
    this.section.className = 'view';
    this.section.dataset.view = view.name;
    const measures = Object.keys(view.measures);
    this.section.innerHTML = `
      <h2>${view.name} <small>v${view.version}, per ${view.bucket}</small></h2>
      <p class="meta"></p>
      <div class="controls">
        <label>measure <select data-role="measure">${measures.map((m) => `<option>${m}</option>`).join('')}</select></label>
        ${view.groupBy
          .map(
            (field) =>
              `<label>${field} <select data-role="group" data-field="${field}"><option value="">all</option></select></label>`,
          )
          .join('')}
      </div>
      <div class="chart"></div>
      <p class="summary"></p>
      ${view.distinct ? `<p class="estimate-legend">${estimateLegend(view.distinct)}</p><p class="latest"></p>` : ''}
      <p class="lateness"></p>`;
    this.meta = this.section.querySelector('.meta');
    this.summary = this.section.querySelector('.summary');
    this.latest = this.section.querySelector('.latest');
    /** Whether the speed bars now charted are estimates (a distinct measure is shown). */
    this.estimated = false;
    /** Whether the bars now charted are distinct counts summed over groups: upper bounds. */
    this.upperBound = false;
    /** Whether the reader chose "all" for a group field: a distinct measure then stays summed (marked). */
    this.allChosen = false;
    this.chartElement = this.section.querySelector('.chart');
    this.measureSelect = this.section.querySelector('[data-role="measure"]');
    for (const select of this.section.querySelectorAll('select'))
      select.addEventListener('change', () => {
        if (select.dataset.role === 'group') this.allChosen = select.value === '';
        this.refresh();
      });
    this.watermarkLine = document.createElement('div');
    this.watermarkLine.className = 'watermark-line';
    this.watermarkLine.innerHTML = '<span>W</span>';
    this.refreshes = 0;
    this.showLateness(view);
  }

  /** How late the view's events arrive, the share restated after their bucket was exact, and the settle time. */
  showLateness({ lateness, settle }) {
    this.section.querySelector('.lateness').textContent = latenessText(lateness, settle);
    Object.assign(this.section.dataset, {
      latenessEvents: String(lateness.events),
      latenessP99: String(lateness.p99Ms),
      lateAfterExact: String(lateness.lateAfterExact),
      lateAfterExactShare: String(lateness.lateAfterExactShare),
      settle: `${settle.mode} ${settle.ms}`,
    });
  }

  filter() {
    const filter = {};
    for (const select of this.section.querySelectorAll('[data-role="group"]'))
      if (select.value !== '') filter[select.dataset.field] = select.value;
    return filter;
  }

  /** Adds group values seen in answers to the selectors, keeping the current choice. */
  learnGroups(buckets) {
    for (const bucket of buckets)
      for (const group of bucket.groups)
        for (const [field, value] of Object.entries(group.key))
          if (value !== null) this.groupValues.get(field)?.add(value);
    for (const select of this.section.querySelectorAll('[data-role="group"]')) {
      const known = new Set([...select.options].map((option) => option.value));
      for (const value of [...this.groupValues.get(select.dataset.field)].sort())
        if (!known.has(value)) select.add(new Option(value, value));
    }
  }

  /**
   * A distinct measure over all groups would chart their sum, not a count: unless the reader chose "all",
   * the panel charts one group, the largest (the most over the answer's buckets). True when it set one.
   */
  chooseLargestGroup(buckets, measure) {
    if (this.allChosen || this.view.groupBy.length === 0) return false;
    const sizes = new Map();
    for (const bucket of buckets)
      for (const group of bucket.groups) {
        const values = this.view.groupBy.map((field) => group.key[field] ?? null);
        // A null group value has no choice in the selectors (as in `learnGroups`); '' is "all" there.
        if (values.some((value) => value === null || value === '')) continue;
        const key = JSON.stringify(values);
        sizes.set(key, (sizes.get(key) ?? 0n) + bigIntOf(group.values[measure]));
      }
    const [largest] = [...sizes].sort(([a, x], [b, y]) => (y > x ? 1 : y < x ? -1 : a < b ? -1 : 1));
    if (largest === undefined) return false;
    const values = JSON.parse(largest[0]);
    for (const select of this.section.querySelectorAll('[data-role="group"]'))
      select.value = values[this.view.groupBy.indexOf(select.dataset.field)];
    return true;
  }

  chart(width) {
    if (this.plot !== undefined) return this.plot;
    const bars = uPlot.paths.bars({ size: [0.85, 40], align: 1 });
    const series = (label, color, estimates) => ({
      label,
      stroke: color,
      fill: `${color}cc`,
      paths: bars,
      points: { show: false },
      // The hover legend: a speed bar of a distinct measure is an estimate; summed over groups, an upper bound.
      value: (_u, value) =>
        value === null || value === undefined
          ? '-'
          : `${this.upperBound ? UPPER_BOUND_MARK : ''}${estimates && this.estimated ? ESTIMATE_MARK : ''}${compact.format(value)}`,
    });
    this.plot = new uPlot(
      {
        width,
        height: 260,
        series: [{}, series('batch', COLORS.batch, false), series('speed', COLORS.speed, true)],
        axes: [{}, { size: 60, values: (_u, splits) => splits.map((value) => compact.format(value)) }],
        scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        hooks: { draw: [(u) => this.placeWatermark(u)] },
      },
      [[], [], []],
      this.chartElement,
    );
    this.plot.over.appendChild(this.watermarkLine);
    return this.plot;
  }

  /** The watermark as a line over the plot, where W falls on the time axis. */
  placeWatermark(u) {
    const left = this.watermark > 0 ? u.valToPos(this.watermark / 1000, 'x') : -1;
    const visible = left >= 0 && left <= u.over.clientWidth;
    this.watermarkLine.style.display = visible ? 'block' : 'none';
    this.watermarkLine.style.left = `${left}px`;
    this.section.dataset.watermarkDrawn = String(visible);
  }

  async refresh() {
    const { view } = this;
    const width = BUCKET_MS[view.bucket];
    const to = Date.now() + width;
    const from = to - WINDOW_MS[view.bucket];
    const filter = this.filter();
    const query = new URLSearchParams({ from: String(from), to: String(to), ...filter });
    const series = await api(`/views/${encodeURIComponent(view.name)}/series?${query}`);
    if (Object.keys(filter).length === 0) this.learnGroups(series.buckets);
    const measure = this.measureSelect.value;
    // A distinct measure: its speed buckets are estimates, and its buckets' values do not add up.
    const distinct = view.distinct?.measures.includes(measure) ?? false;
    for (const select of this.section.querySelectorAll('[data-role="group"]'))
      select.options[0].textContent = allGroupsText(distinct);
    // Summed over groups (some group field is "all"), a distinct measure is an upper bound at most.
    const summed = Object.keys(filter).length < view.groupBy.length;
    if (
      distinct &&
      summed &&
      Object.keys(filter).length === 0 &&
      this.chooseLargestGroup(series.buckets, measure)
    )
      return this.refresh();
    this.estimated = distinct;
    this.upperBound = distinct && summed;
    const xs = [];
    const batch = [];
    const speed = [];
    // The total is shown as text: summed exactly, as BigInt, where the chart's float is close enough.
    let total = 0n;
    const counts = { batch: 0, speed: 0 };
    const marked = { exact: 0, estimate: 0, upperBound: 0 };
    const latest = [];
    for (const bucket of series.buckets) {
      const exact = bucket.groups.reduce((sum, group) => sum + bigIntOf(group.values[measure]), 0n);
      const value = Number(exact);
      const fromBatch = bucket.source === 'batch';
      xs.push(bucket.start / 1000);
      batch.push(fromBatch ? value : null);
      speed.push(fromBatch ? null : value);
      counts[fromBatch ? 'batch' : 'speed']++;
      total += exact;
      if (distinct) {
        const estimate = bucket.distinct === 'sketch';
        // A sum over groups is exact in no bucket: an upper bound of exact counts, or of estimates.
        if (this.upperBound) marked.upperBound++;
        else marked[estimate ? 'estimate' : 'exact']++;
        const mark = `${this.upperBound ? UPPER_BOUND_MARK : ''}${estimate ? ESTIMATE_MARK : ''}`;
        latest.push(`${bucketText(bucket.start)} ${mark}${exact.toLocaleString()}`);
      }
    }
    this.watermark = series.watermark;
    const plot = this.chart(this.chartElement.clientWidth || 900);
    plot.setScale('x', { min: series.from / 1000, max: series.to / 1000 });
    plot.setData([xs, batch, speed], false);
    plot.setScale('x', { min: series.from / 1000, max: series.to / 1000 });
    this.refreshes++;
    const run = series.batchRun ? `last batch run ${series.batchRun.id}` : 'no batch run yet';
    this.meta.textContent = `watermark ${timeText(series.watermark)} · ${run} · grouped by ${view.groupBy.join(', ') || 'nothing'}`;
    const filterText =
      Object.entries(filter)
        .map(([field, value]) => `${field}=${value}`)
        .join(', ') || 'all groups';
    // Over groups a bar is their sum (a value seen in two groups counts in each); over buckets there is no total.
    const bucketsText = this.upperBound
      ? `${marked.upperBound} ${UPPER_BOUND_MARK} upper bounds, summed over groups: a value in two groups counts twice, so a bar is an upper bound of the count (equal only when no value is in two groups)`
      : `${marked.exact} exact, ${marked.estimate} ${ESTIMATE_MARK} estimates`;
    this.summary.textContent = distinct
      ? `${measure}, ${filterText}: ${xs.length} buckets (${bucketsText}); ` +
        'distinct counts of different buckets do not add, so no total'
      : `${measure}, ${filterText}: ${total.toLocaleString()} over ${xs.length} buckets (${counts.batch} batch, ${counts.speed} speed)`;
    if (this.latest !== null)
      this.latest.textContent = distinct
        ? `latest: ${latest.slice(-LATEST_LISTED).join(' · ') || 'none'}`
        : '';
    Object.assign(this.section.dataset, {
      measure,
      filter: filterText,
      total: distinct ? '' : String(total),
      exactBuckets: String(marked.exact),
      estimateBuckets: String(marked.estimate),
      upperBoundBuckets: String(marked.upperBound),
      buckets: String(xs.length),
      batchBuckets: String(counts.batch),
      speedBuckets: String(counts.speed),
      watermark: String(series.watermark),
      refreshes: String(this.refreshes),
    });
  }
}

let panels = [];
let timer;

/** Lateness moves slowly (a window of days): `GET /views` is asked again once a minute, not every refresh. */
const LATENESS_REFRESH_MS = 60_000;
let latenessShownAt = 0;

async function refreshLateness() {
  if (Date.now() - latenessShownAt < LATENESS_REFRESH_MS) return;
  latenessShownAt = Date.now();
  const { views } = await api('/views');
  for (const view of views) panels.find((panel) => panel.view.name === view.name)?.showLateness(view);
}

async function refreshAll() {
  try {
    await Promise.all([...panels.map((panel) => panel.refresh()), refreshLateness()]);
    setStatus(
      `${connection.url} · refreshed ${new Date().toLocaleTimeString()} · every ${REFRESH_MS / 1000}s`,
    );
  } catch (error) {
    setStatus(`${connection.url}: ${error.message}`, true);
  }
}

async function connect() {
  clearInterval(timer);
  viewsElement.replaceChildren();
  panels = [];
  if (!connection.url) {
    setStatus('enter the API URL (the local one is printed by npm start)', true);
    return;
  }
  try {
    const { views } = await api('/views');
    latenessShownAt = Date.now();
    panels = views.map((view) => new ViewPanel(view));
    viewsElement.append(...panels.map((panel) => panel.section));
  } catch (error) {
    setStatus(`${connection.url}: ${error.message}`, true);
  }
  await refreshAll();
  timer = setInterval(refreshAll, REFRESH_MS);
}

document.getElementById('connection').addEventListener('submit', (event) => {
  event.preventDefault();
  connection = { url: apiUrlInput.value.trim(), key: apiKeyInput.value.trim() };
  localStorage.setItem(STORAGE.apiUrl, connection.url);
  localStorage.setItem(STORAGE.apiKey, connection.key);
  void connect();
});

window.addEventListener('resize', () => {
  for (const panel of panels) panel.plot?.setSize({ width: panel.chartElement.clientWidth, height: 260 });
});

void connect();
