#!/usr/bin/env python3
"""The Grafana dashboards, as code: one per concern, written to dashboards/*.json.

    dashboards.py            rewrite the JSON files
    dashboards.py --check    fail when a committed file differs from what this writes
    dashboards.py --exprs    print every panel's query, one per line (the tests check each
                             one with promtool and against a running Prometheus)

The panels use only the metrics the platform exports (and the exporters': MariaDB's, Redis's
and Kafka's JMX agent), with the labels the scrape configs give: `job`, `function`, `context`. The data source is a variable,
so the dashboards import into any Grafana with a Prometheus data source.
"""

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "dashboards"


def panel(title, exprs, unit="short", legend="{{function}}", description=""):
    """A time series panel; EXPRS is one query or a list of (query, legend) pairs."""
    if isinstance(exprs, str):
        exprs = [(exprs, legend)]
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"refId": chr(ord("A") + index), "expr": expr, "legendFormat": legend_format}
            for index, (expr, legend_format) in enumerate(exprs)
        ],
    }


def p99(selector, by="function"):
    return (
        f"histogram_quantile(0.99, sum by ({by}, le) "
        f"(rate(http_request_duration_seconds_bucket{{{selector}}}[5m])))"
    )


DASHBOARDS = {
    "storefront-api": (
        "Storefront API",
        "The HTTP functions behind the gateway: traffic, errors and latency per function.",
        [
            panel("Requests per second", 'sum by (function) (rate(http_requests_total{job="functions"}[1m]))', "reqps"),
            panel(
                "5xx per second",
                'sum by (job, function) (rate(http_requests_total{status=~"5.."}[1m]))',
                "reqps",
                "{{job}} {{function}}",
            ),
            panel(
                "4xx per second (refused input, missing tokens)",
                'sum by (function, status) (rate(http_requests_total{job="functions", status=~"4.."}[1m]))',
                "reqps",
                "{{function}} {{status}}",
            ),
            panel("p99 latency per function", p99('job="functions"'), "s"),
            panel(
                "Gateway: requests and p99",
                [
                    ('sum(rate(http_requests_total{job="local-gateway"}[1m]))', "requests/s"),
                    (p99('job="local-gateway"', by="job"), "p99 (s)"),
                ],
            ),
            panel(
                "Login and place-order p99 (alert at 0.5 s and 0.25 s)",
                [
                    (p99('function="login"'), "login"),
                    (p99('function="place-order"'), "place-order"),
                ],
                "s",
            ),
        ],
    ),
    "saga": (
        "Order saga",
        "Orders placed, the saga's steps handled per function, and orders that expire unpaid.",
        [
            panel(
                "Orders placed per second",
                [
                    ('sum(rate(http_requests_total{function="place-order", status="201"}[1m]))', "place-order"),
                    ('sum(rate(http_requests_total{function="manage-cart", route="/cart/checkout", status="201"}[1m]))', "checkout"),
                ],
                "reqps",
            ),
            panel(
                "Saga events handled per second, by outcome",
                'sum by (function, outcome) (rate(events_handled_total[1m]))',
                "ops",
                "{{function}} {{outcome}}",
            ),
            panel(
                "Event handling p99 per function",
                "histogram_quantile(0.99, sum by (function, le) (rate(event_handling_duration_seconds_bucket[5m])))",
                "s",
            ),
            panel(
                "Orders expired unpaid, and still overdue after the sweep",
                [
                    ("sum(increase(ordering_orders_expired_total[5m]))", "expired in 5 min"),
                    ("max(ordering_orders_overdue)", "overdue after the sweep"),
                ],
            ),
            panel(
                "Seconds since the expiry sweep last ran (alert above 300)",
                "time() - max(ordering_expire_orders_last_sweep_timestamp_seconds)",
                "s",
                "expire-orders",
            ),
        ],
    ),
    "cdc-relay": (
        "CDC relay",
        "The outbox relay: binlog to Kafka.",
        [
            panel("Lag, commit to Kafka", "outbox_relay_lag_milliseconds", "ms", "lag"),
            panel(
                "Oldest unpublished event, by outbox",
                "outbox_relay_backlog_age_seconds",
                "s",
                "{{schema}}",
                "Age of the oldest row still in each context's outbox. Unlike the lag, which is set when "
                "something is published, it keeps growing while the relay stands still.",
            ),
            panel("Events published per second", "rate(outbox_relay_events_published_total[1m])", "ops", "published"),
            panel("Events in flight (sent, not yet acknowledged)", "outbox_relay_events_in_flight", "short", "in flight"),
            panel("State", "outbox_relay_state == 1", "short", "{{state}}"),
            panel("Errors per minute, by kind", "sum by (kind) (increase(outbox_relay_errors_total[1m]))", "short", "{{kind}}"),
        ],
    ),
    "dispatcher": (
        "Dispatcher and dead letters",
        "Kafka to the functions: lag, deliveries, retries and dead letters per subscription.",
        [
            panel(
                "Consumer lag per subscription",
                "sum by (function, topic) (dispatcher_consumer_lag)",
                "short",
                "{{function}} ← {{topic}}",
            ),
            panel(
                "Records delivered per second, by outcome",
                "sum by (function, outcome) (rate(dispatcher_records_total[1m]))",
                "ops",
                "{{function}} {{outcome}}",
            ),
            panel("Retries per second", "sum by (function) (rate(dispatcher_retries_total[1m]))", "ops"),
            panel(
                "Dead letters in the last 10 minutes",
                "sum by (function, topic) (increase(dispatcher_dead_letters_total[10m]))",
                "short",
                "{{function}} ← {{topic}}",
            ),
            panel(
                "Delivery p99 per function",
                "histogram_quantile(0.99, sum by (function, le) (rate(dispatcher_delivery_duration_seconds_bucket[5m])))",
                "s",
            ),
        ],
    ),
    "infrastructure": (
        "Infrastructure",
        "Whether every process answers and is ready, and MariaDB, Redis and Kafka at work.",
        [
            panel("Targets up, by job", "sum by (job) (up)", "short", "{{job}}"),
            panel("Functions not ready", "count(function_ready == 0) or vector(0)", "short", "not ready"),
            panel(
                "MariaDB commits and queries per second",
                [
                    ('rate(mysql_global_status_commands_total{command="commit"}[1m])', "commits"),
                    ("rate(mysql_global_status_queries[1m])", "queries"),
                ],
                "ops",
            ),
            panel("MariaDB connections", "mysql_global_status_threads_connected", "short", "connected"),
            panel("Redis commands per second", "rate(redis_commands_processed_total[1m])", "ops", "commands"),
            panel("Redis memory", "redis_memory_used_bytes", "bytes", "used"),
            panel(
                "Kafka requests per second, by type",
                "sum by (request) (rate(kafka_network_requests_total[1m]))",
                "reqps",
                "{{request}}",
                "Fetch counts every fetch; FetchConsumer the consumers' (the relay's and the dispatcher's).",
            ),
            panel(
                "Kafka request time p99, by type",
                'max by (request) (kafka_network_request_time_ms{percentile="99"})',
                "ms",
                "{{request}}",
                "From receiving a request to answering it. A consumer's fetch waits up to its "
                "fetch.wait.max.ms for records, so a quiet topic's fetches are slow by design.",
            ),
            panel(
                "Kafka bytes in and out per second, by topic",
                [
                    ("sum by (topic) (rate(kafka_server_topic_bytes_in_total[1m]))", "{{topic}} in"),
                    ("sum by (topic) (rate(kafka_server_topic_bytes_out_total[1m]))", "{{topic}} out"),
                ],
                "Bps",
            ),
            panel(
                "Kafka messages in per second, by topic",
                "sum by (topic) (rate(kafka_server_topic_messages_in_total[1m]))",
                "ops",
                "{{topic}}",
            ),
            panel(
                "Kafka partitions: under-replicated, offline; active controllers",
                [
                    ("sum(kafka_server_under_replicated_partitions)", "under-replicated"),
                    ("sum(kafka_controller_offline_partitions)", "offline (alert above 0)"),
                    ("sum(kafka_controller_active_controller_count)", "active controllers (1)"),
                ],
            ),
            panel(
                "Kafka request handlers idle",
                # Kafka 4.1 on a node that is broker and controller adds both handler pools into
                # one meter, which reads up to 2 (KAFKA-19606): halved here while the pom pins 4.1.
                "kafka_server_request_handler_avg_idle_ratio / 2",
                "percentunit",
                "idle",
                "Share of time the request threads wait for work, over a minute; below 30 % the "
                "broker is busy. Halved: Kafka 4.1 sums the broker's and the controller's pools.",
            ),
            panel(
                "Kafka JVM heap",
                [
                    ('jvm_memory_used_bytes{job="kafka", area="heap"}', "used"),
                    ('jvm_memory_max_bytes{job="kafka", area="heap"}', "max (KAFKA_HEAP)"),
                ],
                "bytes",
            ),
            panel(
                "Kafka GC time per second, by collector",
                'rate(jvm_gc_collection_seconds_sum{job="kafka"}[1m])',
                "s",
                "{{gc}}",
            ),
        ],
    ),
}


def dashboard(uid, title, description, panels):
    laid_out = []
    for index, item in enumerate(panels):
        item = dict(item, id=index + 1, gridPos={"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)})
        laid_out.append(item)
    return {
        "uid": f"commerce-{uid}",
        "title": f"Commerce · {title}",
        "description": description,
        "tags": ["commerce"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"}]
        },
        "panels": laid_out,
    }


def rendered():
    return {
        f"{uid}.json": json.dumps(dashboard(uid, *spec), indent=2, ensure_ascii=False) + "\n"
        for uid, spec in DASHBOARDS.items()
    }


def main(argv):
    files = rendered()
    if "--exprs" in argv:
        for text in files.values():
            for item in json.loads(text)["panels"]:
                for target in item["targets"]:
                    print(target["expr"])
        return 0
    if "--check" in argv:
        stale = [name for name, text in files.items() if not (OUT / name).exists() or (OUT / name).read_text() != text]
        extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in files)
        if stale or extra:
            print(f"stale dashboards: {stale}, unknown files: {extra}; run {sys.argv[0]}", file=sys.stderr)
            return 1
        print(f"{len(files)} dashboards are current")
        return 0
    OUT.mkdir(exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(files)} dashboards into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
