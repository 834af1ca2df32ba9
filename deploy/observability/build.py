"""Builds the generated files of deploy/observability from their sources:

- grafana/dashboards/*.json: one dashboard per service and one for a drop's life, from the
  panel lists below (only series the services export: docs/metrics.md);
- k8s/prometheusrule.yaml: prometheus/alerts.yml as a Prometheus Operator PrometheusRule.

    python deploy/observability/build.py          # write them
    python deploy/observability/build.py --check  # exit 1 if a file is not up to date

tests/unit/deploy/test_observability.py runs the check, so a change here or in alerts.yml
without rebuilding fails the tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DASHBOARDS = HERE / "grafana" / "dashboards"
PROMETHEUS_RULE = HERE / "k8s" / "prometheusrule.yaml"
DS = {"type": "prometheus", "uid": "${datasource}"}


def q(expr: str, legend: str = "") -> dict[str, Any]:
    return {"expr": expr, "legendFormat": legend}


def panel(title: str, *targets: dict[str, Any], unit: str = "short", kind: str = "timeseries",
          description: str = "", width: int = 12) -> dict[str, Any]:
    return {"title": title, "type": kind, "description": description, "unit": unit,
            "targets": list(targets), "width": width}


def http_panels(job: str) -> list[dict[str, Any]]:
    sel = f'job="{job}"'
    return [
        panel("HTTP answers/s by route and status",
              q(f"sum by (route, status) (rate(stampede_http_requests_total{{{sel}}}[1m]))",
                "{{route}} {{status}}"), unit="reqps"),
        panel("HTTP latency p99 by route",
              q("histogram_quantile(0.99, sum by (le, route) "
                f"(rate(stampede_http_request_duration_seconds_bucket{{{sel}}}[5m])))",
                "{{route}}"), unit="s"),
        panel("5xx share of HTTP answers",
              q(f'sum(rate(stampede_http_requests_total{{{sel}, status=~"5.."}}[5m])) / '
                f"sum(rate(stampede_http_requests_total{{{sel}}}[5m]))", "5xx"),
              unit="percentunit"),
    ]


def consumer_panels(job: str) -> list[dict[str, Any]]:
    sel = f'job="{job}"'
    return [
        panel("Consumer lag per partition",
              q(f"max by (topic, partition) (stampede_consumer_lag{{{sel}}})",
                "{{topic}}[{{partition}}]"),
              description="High watermark minus position (StampedeConsumerLag: > 1000 "
                          "for 2 minutes)."),
        panel("Messages consumed/s",
              q(f"sum by (topic) (rate(stampede_messages_consumed_total{{{sel}}}[1m]))",
                "{{topic}}"), unit="ops"),
        panel("Batch time p99",
              q("histogram_quantile(0.99, sum by (le, topic) "
                f"(rate(stampede_batch_seconds_bucket{{{sel}}}[5m])))", "{{topic}}"),
              unit="s"),
        panel("Dead letters and handler failures/s",
              q(f"sum by (topic, reason) (rate(stampede_dead_letters_total{{{sel}}}[5m]))",
                "dead letter {{topic}} {{reason}}"),
              q(f"sum by (topic) (rate(stampede_handler_failures_total{{{sel}}}[5m]))",
                "handler failed {{topic}}"),
              q(f"sum by (topic) (rate(stampede_broker_log_lost_total{{{sel}}}[5m]))",
                "log lost {{topic}}"), unit="ops"),
    ]


GATEWAY = [
    panel("Order-path answers/s by outcome",
          q("sum by (operation, status, by) (rate(stampede_gateway_order_answers_total[1m]))",
            "{{operation}} {{status}} ({{by}})"), unit="reqps",
          description="by: view (refused at once), inventory (the owner's reply), replay "
                      "(idempotent), pending (202 at the reply timeout)."),
    panel("Order-path latency p50 / p99",
          q("histogram_quantile(0.5, sum by (le, operation) "
            "(rate(stampede_gateway_reply_seconds_bucket[5m])))", "p50 {{operation}}"),
          q("histogram_quantile(0.99, sum by (le, operation) "
            "(rate(stampede_gateway_reply_seconds_bucket[5m])))", "p99 {{operation}}"),
          unit="s"),
    panel("Reply timeouts and late replies/s",
          q("sum(rate(stampede_gateway_reply_timeouts_total[1m]))", "reply timeouts (202)"),
          q("sum(rate(stampede_gateway_late_replies_total[1m]))", "late replies"),
          unit="ops"),
    panel("Waiting rooms",
          q("max(stampede_gateway_waiting_rooms_in_use)", "rooms with buyers waiting"),
          q("sum(rate(stampede_gateway_waiting_room_tickets_total[1m]))", "tickets/s")),
    panel("Waiting-room depth by drop",
          q("max by (drop_id) (stampede_gateway_waiting_room_depth)", "{{drop_id}}")),
    panel("Admitted/s by drop",
          q("sum by (drop_id) (rate(stampede_gateway_waiting_room_admitted_total[1m]))",
            "{{drop_id}}"), unit="ops"),
    *http_panels("gateway"),
    *consumer_panels("gateway"),
]

INVENTORY = [
    panel("Oversell violations (must be 0)",
          q("max(stampede_inventory_oversell_violations)", "violations"), kind="stat",
          width=6, description="StampedeOversell pages on anything but 0."),
    panel("Command partitions owned (of 8)",
          q("sum(stampede_inventory_partitions_owned)", "owned"), kind="stat", width=6,
          description="StampedeCommandPartitionWithoutOwner: fewer than 8 for a minute."),
    panel("Active holds", q("sum(stampede_inventory_holds_active)", "holds"), kind="stat",
          width=6),
    panel("Partitions owned by process",
          q("stampede_inventory_partitions_owned", "{{instance}}"), width=6),
    panel("Decisions/s by command and outcome",
          q("sum by (command, outcome) (rate(stampede_inventory_decisions_total[1m]))",
            "{{command}} {{outcome}}"), unit="ops"),
    panel("Commit and publish p99",
          q("histogram_quantile(0.99, sum by (le) "
            "(rate(stampede_inventory_commit_seconds_bucket[5m])))", "commit"),
          q("histogram_quantile(0.99, sum by (le) "
            "(rate(stampede_inventory_publish_seconds_bucket[5m])))", "publish"), unit="s"),
    panel("Commands per batch (p50, p99)",
          q("histogram_quantile(0.5, sum by (le) "
            "(rate(stampede_inventory_batch_size_bucket[5m])))", "p50"),
          q("histogram_quantile(0.99, sum by (le) "
            "(rate(stampede_inventory_batch_size_bucket[5m])))", "p99")),
    panel("Fenced, re-decided, misrouted/s; expiries sent/s",
          q("sum(rate(stampede_inventory_fenced_total[5m]))", "fenced"),
          q("sum(rate(stampede_inventory_batches_redecided_total[5m]))", "re-decided"),
          q("sum(rate(stampede_inventory_misrouted_total[5m]))", "misrouted"),
          q("sum(rate(stampede_inventory_expiries_sent_total[5m]))", "expiries sent"),
          unit="ops"),
    *consumer_panels("inventory"),
    *http_panels("inventory"),
]

ORDERS = [
    panel("Events applied and purchases recorded/s",
          q("sum(rate(stampede_orders_events_applied_total[1m]))", "events applied"),
          q("sum(rate(stampede_orders_purchases_recorded_total[1m]))", "purchases"),
          unit="ops"),
    panel("Duplicates, seq gaps, positions reset/s",
          q("sum(rate(stampede_orders_duplicates_skipped_total[5m]))", "duplicates"),
          q("sum(rate(stampede_orders_seq_gaps_total[5m]))", "seq gaps"),
          q("sum(rate(stampede_orders_positions_reset_total[5m]))", "positions reset"),
          unit="ops"),
    panel("Internal API refusals (401: no service token)/s",
          q('sum by (route) (rate(stampede_http_requests_total{job="orders", '
            'status="401"}[5m]))', "{{route}}"), unit="reqps"),
    *consumer_panels("orders"),
    *http_panels("orders"),
]

NOTIFIER = [
    panel("Open WebSocket connections", q("sum(stampede_notifier_connections)", "open"),
          q("stampede_notifier_connections", "{{instance}}")),
    panel("Connections refused/s by reason",
          q("sum by (reason) (rate(stampede_notifier_connections_rejected_total[1m]))",
            "{{reason}}"), unit="ops"),
    panel("Messages sent, coalesced, replayed/s",
          q("sum(rate(stampede_notifier_messages_sent_total[1m]))", "sent"),
          q("sum(rate(stampede_notifier_messages_coalesced_total[1m]))", "coalesced"),
          q("sum by (kind) (rate(stampede_notifier_replayed_messages_total[1m]))",
            "replayed {{kind}}"), unit="ops"),
    panel("Fan-out p99", q("histogram_quantile(0.99, sum by (le) "
                           "(rate(stampede_notifier_fanout_seconds_bucket[5m])))", "p99"),
          unit="s"),
    panel("Slow clients dropped/s, held clients",
          q("sum(rate(stampede_notifier_slow_clients_dropped_total[1m]))", "dropped/s"),
          q("sum(stampede_notifier_held_clients)", "held")),
    panel("Duplicate events, stale queue updates/s",
          q("sum(rate(stampede_notifier_duplicate_events_total[5m]))", "duplicates"),
          q("sum(rate(stampede_notifier_queue_updates_ignored_total[5m]))",
            "queue updates ignored"), unit="ops"),
    *consumer_panels("notifier"),
    *http_panels("notifier"),
]

ALL_DROPS = ("All drops: the services label these series by operation, not by drop "
             "(a label per drop would grow without bound).")
DROP = [
    panel("Waiting room: buyers waiting",
          q('max by (drop_id) (stampede_gateway_waiting_room_depth{drop_id=~"$drop_id"})',
            "{{drop_id}}")),
    panel("Waiting room: admitted/s (configured rate dashed)",
          q("sum by (drop_id) (rate(stampede_gateway_waiting_room_admitted_total"
            '{drop_id=~"$drop_id"}[1m]))', "admitted {{drop_id}}"),
          q('max by (drop_id) (stampede_gateway_waiting_room_admit_per_s{drop_id=~"$drop_id"})',
            "configured {{drop_id}}"), unit="ops"),
    panel("Stock: holds active, purchases recorded/s",
          q("sum(stampede_inventory_holds_active)", "holds active"),
          q("sum(rate(stampede_orders_purchases_recorded_total[1m]))", "purchases/s"),
          description=ALL_DROPS + " No series carries a drop's remaining stock: read it from "
                                  "GET /api/drops/{id} or the notifier's stock messages."),
    panel("Answers/s by outcome",
          q("sum by (operation, status) (rate(stampede_gateway_order_answers_total[1m]))",
            "{{operation}} {{status}}"), unit="reqps", description=ALL_DROPS),
    panel("Order-path latency p50 / p99",
          q("histogram_quantile(0.5, sum by (le) "
            "(rate(stampede_gateway_reply_seconds_bucket[1m])))", "p50"),
          q("histogram_quantile(0.99, sum by (le) "
            "(rate(stampede_gateway_reply_seconds_bucket[1m])))", "p99"), unit="s",
          description=ALL_DROPS),
    panel("Reply timeouts/s (202) and oversell violations",
          q("sum(rate(stampede_gateway_reply_timeouts_total[1m]))", "reply timeouts"),
          q("max(stampede_inventory_oversell_violations)", "oversell violations"),
          description=ALL_DROPS),
]


def dashboard(uid: str, title: str, panels: list[dict[str, Any]], *,
              drop_variable: bool = False) -> dict[str, Any]:
    built, x, y = [], 0, 0
    for i, p in enumerate(panels, start=1):
        width = p["width"]
        if x + width > 24:
            x, y = 0, y + 8
        built.append({
            "id": i, "title": p["title"], "type": p["type"], "datasource": DS,
            "description": p["description"],
            "gridPos": {"h": 8, "w": width, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": p["unit"]}, "overrides": []},
            "options": {},
            "targets": [{"datasource": DS, "refId": chr(ord("A") + n), **t}
                        for n, t in enumerate(p["targets"])],
        })
        x += width
    variables: list[dict[str, Any]] = [{
        "name": "datasource", "label": "Prometheus", "type": "datasource",
        "query": "prometheus", "current": {}, "hide": 0,
    }]
    if drop_variable:
        variables.append({
            "name": "drop_id", "label": "Drop", "type": "query", "datasource": DS,
            "query": {"query": "label_values(stampede_gateway_waiting_room_depth, drop_id)",
                      "refId": "drops"},
            "definition": "label_values(stampede_gateway_waiting_room_depth, drop_id)",
            "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2,
            "current": {}, "hide": 0,
        })
    return {
        "uid": uid, "title": title, "tags": ["stampede"], "timezone": "utc",
        "schemaVersion": 39, "version": 1, "editable": True, "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"}, "panels": built,
        "templating": {"list": variables}, "annotations": {"list": []}, "links": [],
    }


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        "gateway.json": dashboard("stampede-gateway", "Stampede / gateway", GATEWAY),
        "inventory.json": dashboard("stampede-inventory", "Stampede / inventory", INVENTORY),
        "orders.json": dashboard("stampede-orders", "Stampede / orders", ORDERS),
        "notifier.json": dashboard("stampede-notifier", "Stampede / notifier", NOTIFIER),
        "drop.json": dashboard("stampede-drop", "Stampede / a drop's life", DROP,
                               drop_variable=True),
    }


def prometheus_rule() -> str:
    rules = yaml.safe_load((HERE / "prometheus" / "alerts.yml").read_text())
    doc = {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": {"name": "stampede-alerts",
                     "labels": {"app.kubernetes.io/part-of": "stampede"}},
        "spec": rules,
    }
    return ("# GENERATED by deploy/observability/build.py from prometheus/alerts.yml: edit "
            "that file,\n# then run the script.\n"
            + yaml.safe_dump(doc, sort_keys=False, width=100))


def outputs() -> dict[Path, str]:
    out = {DASHBOARDS / name: json.dumps(d, indent=2) + "\n"
           for name, d in dashboards().items()}
    out[PROMETHEUS_RULE] = prometheus_rule()
    return out


def main(argv: list[str]) -> int:
    stale = [p for p, text in outputs().items()
             if not p.exists() or p.read_text() != text]
    if "--check" in argv:
        for p in stale:
            print(f"{p.relative_to(HERE)} is not up to date: run {Path(__file__).name}")
        return 1 if stale else 0
    for p, text in outputs().items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
