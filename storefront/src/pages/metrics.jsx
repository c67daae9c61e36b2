// The admin's metrics page: the platform's key graphs over the last 15 minutes, read from the
// local Prometheus through the gateway (admins only, two read-only calls; docs/adr/0058) and
// redrawn every 5 s. The charting library (uPlot) is loaded only when this page opens, so the
// shop's own bundle does not carry it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { prometheusQuery, prometheusRange } from '../api.js';

const WINDOW_SECONDS = 15 * 60;
const STEP_SECONDS = 15;
const REFRESH_MS = 5000;
const COLOURS = ['#1a56a6', '#1d6b2f', '#a12622', '#b26b00', '#6a3d9a', '#00838f'];

/** Events of `type` that `function` handled, per second (a redelivery counts again; events_duplicates_total counts those). */
const handled = (fn, type) =>
  `sum(rate(events_handled_total{function="${fn}", type="${type}", outcome="succeeded"}[1m])) or vector(0)`;
const httpP99 = (fn) =>
  `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{function="${fn}"}[5m])))`;
const eventP99 = (fn) =>
  `histogram_quantile(0.99, sum by (le) (rate(event_handling_duration_seconds_bucket{function="${fn}"}[5m])))`;

/** The charts, each with its series: a label and a query that answers one series. */
export const CHARTS = [
  {
    id: 'orders',
    title: 'Orders per second',
    unit: 'rate',
    about:
      'Placed, confirmed and cancelled orders as the saga sees them: order.placed handled by reserve-stock, ' +
      'order.confirmed by commit-stock, order.cancelled by release-stock (rate over 1 minute).',
    series: [
      { label: 'placed', query: handled('reserve-stock', 'commerce.ordering.order.placed.v1') },
      { label: 'confirmed', query: handled('commit-stock', 'commerce.ordering.order.confirmed.v1') },
      { label: 'cancelled', query: handled('release-stock', 'commerce.ordering.order.cancelled.v1') },
    ],
  },
  {
    id: 'latency',
    title: 'Latency p99: POST /orders and the saga’s steps',
    unit: 'seconds',
    about:
      'POST to CONFIRMED is not measured as one number; these are its parts: place-order’s answer, then ' +
      'each step’s handling of its event (p99 over 5 minutes; a gap means no traffic).',
    series: [
      { label: 'place-order (HTTP)', query: httpP99('place-order') },
      { label: 'reserve-stock', query: eventP99('reserve-stock') },
      { label: 'authorize-payment', query: eventP99('authorize-payment') },
      { label: 'confirm-order', query: eventP99('confirm-order') },
    ],
  },
  {
    id: 'relay-lag',
    title: 'Relay lag',
    unit: 'ms',
    about:
      'From an event’s commit in MariaDB to Kafka’s acknowledgement, as the outbox relay last published; and the age of the oldest event still waiting in an outbox, which keeps growing while the relay stands still.',
    series: [
      { label: 'commit to Kafka', query: 'max(outbox_relay_lag_milliseconds)' },
      { label: 'oldest unpublished', query: 'max(outbox_relay_backlog_age_seconds) * 1000' },
    ],
  },
  {
    id: 'consumer-lag',
    title: 'Consumer lag',
    unit: 'count',
    about: 'Records in Kafka the dispatcher has not yet delivered to their functions.',
    series: [
      { label: 'all subscriptions', query: 'sum(dispatcher_consumer_lag)' },
      { label: 'largest subscription', query: 'max(sum by (function, topic) (dispatcher_consumer_lag))' },
    ],
  },
  {
    id: 'dead-letters',
    title: 'Dead letters',
    unit: 'count',
    about: 'Records the dispatcher gave up on in the last 10 minutes, and dead letters it could not write.',
    series: [
      { label: 'dead-lettered', query: 'sum(increase(dispatcher_dead_letters_total[10m])) or vector(0)' },
      {
        label: 'not written',
        query: 'sum(increase(dispatcher_dead_letter_produce_failures_total[10m])) or vector(0)',
      },
    ],
  },
  {
    id: 'errors',
    title: '5xx answers per second',
    unit: 'rate',
    about: 'Server errors answered by the functions and by the gateway (rate over 1 minute).',
    series: [
      {
        label: 'functions',
        query: 'sum(rate(http_requests_total{job="functions", status=~"5.."}[1m])) or vector(0)',
      },
      {
        label: 'gateway',
        query: 'sum(rate(http_requests_total{job="local-gateway", status=~"5.."}[1m])) or vector(0)',
      },
    ],
  },
];

/** A value in the chart's unit, in words short enough for an axis. */
export function formatValue(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value === 0) return unit === 'rate' ? '0/s' : unit === 'seconds' || unit === 'ms' ? '0 ms' : '0';
  switch (unit) {
    case 'seconds':
      return value < 1 ? `${(value * 1000).toFixed(value < 0.01 ? 1 : 0)} ms` : `${value.toFixed(2)} s`;
    case 'ms':
      return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
    case 'rate':
      return `${value < 1 ? value.toFixed(3) : value.toFixed(1)}/s`;
    default:
      return Number.isInteger(value) ? String(value) : value.toFixed(1);
  }
}

/**
 * One series of a range answer laid on the chart's time grid: a value per timestamp, `null`
 * where Prometheus had none (or NaN, as a quantile without traffic is).
 */
export function onGrid(times, answer) {
  const values = new Map();
  const first = answer && answer.result && answer.result[0];
  for (const [at, value] of (first && first.values) || []) {
    const number = Number(value);
    values.set(Math.round(Number(at)), Number.isFinite(number) ? number : null);
  }
  return times.map((at) => (values.has(at) ? values.get(at) : null));
}

let uPlotLoading = null;

/** uPlot and its stylesheet (dist/uplot.js, dist/uplot.css), fetched once, when first needed. */
function loadUPlot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!uPlotLoading) {
    uPlotLoading = new Promise((resolve, reject) => {
      const style = document.createElement('link');
      style.rel = 'stylesheet';
      style.href = 'uplot.css';
      document.head.appendChild(style);
      const script = document.createElement('script');
      script.src = 'uplot.js';
      script.onload = () => resolve(window.uPlot);
      script.onerror = () => {
        uPlotLoading = null;
        script.remove();
        reject(Object.assign(new Error('The charting library (uplot.js) did not load.'), { code: 'CHARTS' }));
      };
      document.head.appendChild(script);
    });
  }
  return uPlotLoading;
}

/** What went wrong, in words an admin can act on. */
function problemWords(error) {
  switch (error.code) {
    case 'PROMETHEUS_UNAVAILABLE':
      return 'Prometheus is not running, so there is nothing to draw. Start it with OBSERVABILITY=1 local-stack/up; this page tries again every 5 seconds.';
    case 'FORBIDDEN':
      return 'The metrics are for admins only: your account does not have the admin role.';
    case 'UNAUTHENTICATED':
      return 'Your session ended; please log in again.';
    case 'NETWORK':
      return 'The shop could not reach the server; this page tries again every 5 seconds.';
    default:
      return error.message || 'The metrics could not be read.';
  }
}

/** Asks Prometheus for every chart's series over the last 15 minutes. */
async function readCharts() {
  const end = Math.floor(Date.now() / 1000 / STEP_SECONDS) * STEP_SECONDS;
  const start = end - WINDOW_SECONDS;
  const times = [];
  for (let at = start; at <= end; at += STEP_SECONDS) times.push(at);
  const range = { start, end, step: STEP_SECONDS };
  const answers = await Promise.all(
    CHARTS.map((chart) => Promise.all(chart.series.map((series) => prometheusRange(series.query, range)))),
  );
  return Object.fromEntries(
    CHARTS.map((chart, index) => [chart.id, [times, ...answers[index].map((answer) => onGrid(times, answer))]]),
  );
}

async function readTargets() {
  const [up, all] = await Promise.all([prometheusQuery('count(up == 1)'), prometheusQuery('count(up)')]);
  const count = (answer) => Number((answer.result[0] && answer.result[0].value[1]) || 0);
  return { up: count(up), all: count(all) };
}

export function Metrics() {
  const [state, setState] = useState({ data: null, targets: null, error: null, updated: null });
  useEffect(() => {
    let live = true;
    let timer = null;
    const refresh = async () => {
      try {
        const [data, targets] = await Promise.all([readCharts(), readTargets(), loadUPlot()]);
        if (live) setState({ data, targets, error: null, updated: new Date() });
      } catch (error) {
        // The last graphs stay; the message says why they stopped moving.
        if (live) setState((previous) => ({ ...previous, error }));
      }
      if (live) timer = setTimeout(refresh, REFRESH_MS);
    };
    refresh();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, []);
  const { data, targets, error, updated } = state;
  return (
    <section aria-labelledby="metrics-title" class="metrics">
      <h1 id="metrics-title">Metrics</h1>
      <p class="muted">
        From the local Prometheus: the last 15 minutes, redrawn every 5 seconds.{' '}
        {updated ? (
          <span data-testid="metrics-updated">
            Updated {updated.toLocaleTimeString()}
            {targets ? `; ${targets.up} of ${targets.all} scrape targets up.` : '.'}
          </span>
        ) : null}{' '}
        <a href="#/admin">Back to the admin area</a>
      </p>
      {error ? (
        <p class="error" role="alert" data-code={error.code}>
          {problemWords(error)}
        </p>
      ) : null}
      {data ? (
        <div class="charts">
          {CHARTS.map((chart) => (
            <Chart key={chart.id} chart={chart} data={data[chart.id]} />
          ))}
        </div>
      ) : error ? null : (
        <p aria-busy="true">Loading the graphs…</p>
      )}
    </section>
  );
}

function Chart({ chart, data }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const uPlot = window.uPlot;
    const width = () => Math.max(280, box.current.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: 200,
        series: [
          {},
          ...chart.series.map((series, index) => ({
            label: series.label,
            stroke: COLOURS[index % COLOURS.length],
            width: 2,
            value: (_, value) => formatValue(value, chart.unit),
          })),
        ],
        axes: [
          {},
          {
            size: 64,
            values: (_, ticks) => ticks.map((tick) => formatValue(tick, chart.unit)),
            // Counts are whole: no ticks between them.
            ...(chart.unit === 'count' ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000] } : {}),
          },
        ],
        scales: { y: { range: (_, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      box.current,
    );
    const resized = new ResizeObserver(() => plot.current && plot.current.setSize({ width: width(), height: 200 }));
    resized.observe(box.current);
    return () => {
      resized.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [chart]);
  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  }, [data]);
  const summaries = chart.series.map((series, index) => {
    const values = data[index + 1].filter((value) => value !== null);
    return {
      label: series.label,
      points: values.length,
      latest: values.length ? values[values.length - 1] : null,
      peak: values.length ? Math.max(...values) : null,
    };
  });
  return (
    <figure
      class="chart"
      data-testid={`chart-${chart.id}`}
      data-series-with-points={summaries.filter((summary) => summary.points > 0).length}
    >
      <figcaption>
        <strong>{chart.title}</strong>
        <span class="muted">{chart.about}</span>
      </figcaption>
      <div ref={box} class="chart-plot" />
      <ul class="chart-summary">
        {summaries.map((summary) => (
          <li key={summary.label} data-series={summary.label} data-points={summary.points} data-peak={summary.peak ?? ''}>
            {summary.label}: now {formatValue(summary.latest, chart.unit)}, peak {formatValue(summary.peak, chart.unit)}
          </li>
        ))}
      </ul>
    </figure>
  );
}
