"""Graphs of one experiment of docs/experiments/ (run through benches/experiments/plot).

Three sources, all of the run's window:
- Prometheus range queries (/api/v1/query_range, 5 s steps), kept in prometheus.json;
- timeline.csv, sampled once a second by benches/experiments/run (orders by status in
  MariaDB, outbox rows waiting, relay and dispatcher lag from /metrics);
- orders.csv from saga-bench (each order's saga time and outcome).
The shaded band is the fault (events.json). Time is seconds from the run's start mark: when
benches/experiments/run saw saga-bench begin placing orders (0.4–0.8 s after the first order
in the committed runs, which polled once a second; within 0.1 s since).
"""

import csv
import json
import math
import os
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

repo = Path(__file__).resolve().parents[2]
RATE = "[20s]"

# Prometheus panels per kind: (file suffix, title, y label, [(legend, PromQL)]).
THROUGHPUT = ("throughput", "Orders per second through the saga", "orders/s", [
    ("placed (place-order 201)",
     f'sum(rate(http_requests_total{{function="place-order",method="POST",route="/orders",status="201"}}{RATE}))'),
    ("confirmed (confirm-order)", f'sum(rate(events_handled_total{{function="confirm-order",outcome="succeeded"}}{RATE}))'),
    ("cancelled (cancel-order)", f'sum(rate(events_handled_total{{function="cancel-order",outcome="succeeded",'
                                 f'type=~".*(reservation-failed|declined).*"}}{RATE}))'),
])
PLACE_LATENCY = ("place-latency", "place-order latency at the function", "seconds", [
    ("p50", f'histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{{function="place-order",method="POST",route="/orders"}}{RATE})))'),
    ("p95", f'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{function="place-order",method="POST",route="/orders"}}{RATE})))'),
])
RELAY = ("relay", "Outbox relay", "ms / events per s", [
    ("lag (ms)", "max(outbox_relay_lag_milliseconds)"),
    ("events published per s", f"sum(rate(outbox_relay_events_published_total{RATE}))"),
])
DISPATCHER_LAG = ("dispatcher-lag", "Dispatcher consumer lag (records not yet delivered)", "records", [
    ("reserve-stock", 'sum(dispatcher_consumer_lag{function="reserve-stock"})'),
    ("authorize-payment", 'sum(dispatcher_consumer_lag{function="authorize-payment"})'),
    ("confirm-order", 'sum(dispatcher_consumer_lag{function="confirm-order"})'),
    ("cancel-order", 'sum(dispatcher_consumer_lag{function="cancel-order"})'),
])
PAYMENT = ("authorize-payment", "authorize-payment: deliveries and retries", "per s / seconds", [
    ("deliveries per s", f'sum(rate(dispatcher_delivery_attempts_total{{function="authorize-payment"}}{RATE}))'),
    ("failed, to retry, per s",
     f'sum(rate(events_handled_total{{function="authorize-payment",outcome="retryable_failure"}}{RATE}))'),
    ("mean attempt duration (s)",
     f'sum(rate(dispatcher_delivery_duration_seconds_sum{{function="authorize-payment"}}{RATE})) / '
     f'sum(rate(dispatcher_delivery_duration_seconds_count{{function="authorize-payment"}}{RATE}))'),
])
RESERVE = ("reserve-stock", "reserve-stock: handling time and deliveries", "seconds / per s", [
    ("handling p50 (s)", f'histogram_quantile(0.5, sum by (le) (rate(event_handling_duration_seconds_bucket{{function="reserve-stock"}}{RATE})))'),
    ("handling p95 (s)", f'histogram_quantile(0.95, sum by (le) (rate(event_handling_duration_seconds_bucket{{function="reserve-stock"}}{RATE})))'),
    ("retries per s", f'sum(rate(dispatcher_retries_total{{function="reserve-stock"}}{RATE}))'),
])
# Duplicates are not here: the runtime counts an event its inbox already had as `succeeded`
# (benches/experiments/run counts them from the functions' logs, in summary.json).
REDELIVERY = ("redelivery", "Redeliveries: the dispatcher's retries, the relay's errors", "per s", [
    ("dispatcher retries per s", f"sum(rate(dispatcher_retries_total{RATE}))"),
    ("relay errors per s", f"sum(rate(outbox_relay_errors_total{RATE}))"),
])

KINDS = {
    "payment-storm": [THROUGHPUT, PAYMENT, DISPATCHER_LAG],
    "relay-pause": [THROUGHPUT, RELAY, DISPATCHER_LAG, REDELIVERY],
    "flash-sale": [THROUGHPUT, RESERVE, PLACE_LATENCY],
    "kafka-outage": [THROUGHPUT, RELAY, DISPATCHER_LAG, REDELIVERY],
}


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stack_env():
    home = Path(os.environ.get("STACK_HOME", repo / "local-stack" / "var"))
    values = {}
    path = home / "stack.env"
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key] = value
    return values


def query_range(base, query, start, end):
    params = urllib.parse.urlencode({"query": query, "start": start.timestamp(), "end": end.timestamp(), "step": "5"})
    with urllib.request.urlopen(f"{base}/api/v1/query_range?{params}", timeout=30) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"{query}: {body}")
    return [[[float(t), float(v)] for t, v in series["values"]] for series in body["data"]["result"]]


def fetch(results, kind, start, end):
    """Every panel's series, from Prometheus (and kept), or from what an earlier run kept."""
    kept_path = results / "prometheus.json"
    kept = json.loads(kept_path.read_text()) if kept_path.exists() else {}
    env = stack_env()
    base = os.environ.get("PROMETHEUS_URL") or f"http://127.0.0.1:{env.get('PROMETHEUS_PORT', '9090')}"
    fetched = {}
    for _, _, _, lines in KINDS[kind]:
        for _, query in lines:
            try:
                fetched[query] = query_range(base, query, start, end)
            except OSError:
                if query not in kept:
                    sys.exit(f"Prometheus at {base} does not answer and {kept_path} lacks: {query}")
                fetched[query] = kept[query]
    kept.update(fetched)
    kept_path.write_text(json.dumps(kept) + "\n")
    return fetched


def shade(axis, events, origin):
    on = off = None
    for mark in events["marks"]:
        seconds = (parse(mark["at"]) - origin).total_seconds()
        label = mark["label"]
        if label.startswith("fault on") or label.startswith("kafka killed"):
            on = seconds
        elif label.startswith("fault cleared") or label.startswith("local-stack/up returned"):
            off = seconds
        if label.startswith("local-stack/up started"):
            axis.axvline(seconds, color="grey", linestyle=":", linewidth=1)
    if on is not None:
        axis.axvspan(on, off if off is not None else axis.get_xlim()[1], color="tab:red", alpha=0.12)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in KINDS:
        sys.exit(f"usage: plot {{{','.join(KINDS)}}} RESULTS_DIR [NAME]")
    kind, results = sys.argv[1], Path(sys.argv[2])
    name = sys.argv[3] if len(sys.argv) > 3 else results.name
    events = json.loads((results / "events.json").read_text())
    origin = parse(events["start"])
    start, end = origin - timedelta(seconds=15), parse(events["end"]) + timedelta(seconds=5)
    series = fetch(results, kind, start, end)
    img = repo / "docs" / "experiments" / "img"
    img.mkdir(parents=True, exist_ok=True)
    written = []

    # 1. The run's orders by status (MariaDB, once a second), with the outbox rows waiting.
    timeline = list(csv.DictReader(open(results / "timeline.csv")))
    t = [float(row["t"]) for row in timeline]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for column, color in (("placed", "tab:blue"), ("confirmed", "tab:green"), ("cancelled", "tab:red")):
        top.plot(t, [int(row[column]) for row in timeline], label=f"{column.upper()} now", color=color)
    top.set_ylabel("orders")
    top.set_title("The run's orders by status (MariaDB, sampled each second)")
    top.legend(loc="upper left")
    pending = [(x, int(row["outbox_pending"])) for x, row in zip(t, timeline) if row["outbox_pending"]]
    bottom.plot([x for x, _ in pending], [y for _, y in pending], label="ordering outbox rows not yet published",
                color="tab:purple")
    lags = [(x, float(row["relay_lag_ms"])) for x, row in zip(t, timeline) if row["relay_lag_ms"]]
    if lags:
        right = bottom.twinx()
        right.plot([x for x, _ in lags], [y / 1000 for _, y in lags], color="tab:orange", label="relay lag (s, right)")
        right.set_ylabel("relay lag, s")
        right.legend(loc="upper right")
    bottom.set_ylabel("outbox rows")
    bottom.set_xlabel("seconds from the start mark (saga-bench begins placing)")
    bottom.legend(loc="upper left")
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
        shade(axis, events, origin)
    figure.tight_layout()
    path = img / f"{name}-orders.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(path)

    # 2. Each order's saga time against when it was placed.
    orders = [row for row in csv.DictReader(open(results / "orders.csv")) if row["saga_ms"]]
    figure, axis = plt.subplots(figsize=(9, 4))
    outcomes = sorted({(row["status"], row["cancel_reason"]) for row in orders})
    colors = {"CONFIRMED": "tab:green"}
    for status, reason in outcomes:
        chosen = [row for row in orders if (row["status"], row["cancel_reason"]) == (status, reason)]
        axis.scatter([(parse(row["placed_at"]) - origin).total_seconds() for row in chosen],
                     [int(row["saga_ms"]) / 1000 for row in chosen], s=6,
                     color=colors.get(status), label=f"{status} {reason}".strip() + f" ({len(chosen)})")
    axis.set_yscale("log")
    axis.set_xlabel("placed at, seconds from the start mark")
    axis.set_ylabel("PLACED -> final status, s (log)")
    axis.set_title("Each order's saga time (server clocks)")
    axis.grid(alpha=0.3, which="both")
    axis.legend(loc="upper right", markerscale=3)
    shade(axis, events, origin)
    figure.tight_layout()
    path = img / f"{name}-saga-time.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(path)

    # 3. The Prometheus panels.
    panels = KINDS[kind]
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels)), sharex=True)
    for axis, (_, title, ylabel, lines) in zip(axes, panels):
        for legend, query in lines:
            for values in series[query]:
                axis.plot([x - origin.timestamp() for x, _ in values], [y for _, y in values], label=legend)
        axis.set_title(title, fontsize=10)
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper right", fontsize=8)
        shade(axis, events, origin)
    axes[-1].set_xlabel("seconds from the start mark (Prometheus, 5 s scrapes, rates over 20 s)")
    figure.tight_layout()
    path = img / f"{name}-prometheus.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(path)
    for path in written:
        print(path.relative_to(repo))
    table = phases(events, origin, [row for row in csv.DictReader(open(results / "orders.csv"))])
    (results / "phases.md").write_text(table)
    print(table, end="")


def percentile(values, fraction):
    """Nearest rank, as saga-bench reports."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def phases(events, origin, orders):
    """A Markdown table of the orders placed before, during and after the fault."""
    bounds = []
    for mark in events["marks"]:
        label = mark["label"]
        if label.startswith(("fault on", "kafka killed", "fault cleared", "local-stack/up")):
            bounds.append(((parse(mark["at"]) - origin).total_seconds(), label))
    edges = [float("-inf")] + [seconds for seconds, _ in bounds] + [float("inf")]
    names = ["before the fault" if bounds else "all orders"] + [f"after '{label}'" for _, label in bounds]
    lines = ["| orders placed | orders | CONFIRMED | CANCELLED (reason) | saga p50 | saga p95 | saga max |",
             "|---|---|---|---|---|---|---|"]
    for name, low, high in zip(names, edges, edges[1:]):
        chosen = [row for row in orders if row["placed_at"]
                  and low <= (parse(row["placed_at"]) - origin).total_seconds() < high]
        if not chosen:
            continue
        cancelled = {}
        for row in chosen:
            if row["status"] != "CONFIRMED":
                key = row["cancel_reason"] or row["status"]
                cancelled[key] = cancelled.get(key, 0) + 1
        times = [int(row["saga_ms"]) / 1000 for row in chosen]
        span = f"{max(low, 0):.0f}–{high:.0f} s" if high != float("inf") else f"from {max(low, 0):.0f} s"
        lines.append(
            f"| {name} ({span}) | {len(chosen)} | {sum(row['status'] == 'CONFIRMED' for row in chosen)} | "
            + (", ".join(f"{count} {reason}" for reason, count in sorted(cancelled.items())) or "0")
            + f" | {percentile(times, 0.5):.2f} s | {percentile(times, 0.95):.2f} s | {max(times):.2f} s |")
    return "\n".join(lines) + "\n"


main()
