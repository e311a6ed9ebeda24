"""docs/prometheus-alerts.yml loads as Prometheus rule groups and alerts on the families /metrics serves.

promtool is not available here: the file is checked as YAML, for the rule-file structure, the
expected rules and expressions, and that every metric an expression names is one we export.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from flask import Flask

from config import PROJECT_ROOT
from tests.observability.scraping import scrape
from webapp.observability import metrics

RULES = PROJECT_ROOT / "docs" / "prometheus-alerts.yml"
EXPECTED = {
    "CalendarWorkerStale": "worker_heartbeat_age_seconds > 60",
    "CalendarSchedulerStale": "scheduler_heartbeat_age_seconds > 60",
    "CalendarSyncBacklogOld": "calendar_sync_backlog_oldest_seconds > 300",
    "CalendarDisconnectsHigh": "sum(increase(calendar_disconnects_total[1h])) > 20",
    "WebhookBacklogGrowing": (
        "webhook_backlog > 0 and delta(webhook_backlog[15m]) > 0 and webhook_backlog_oldest_seconds > 600"
    ),
    "CalendarHttp5xxRate": (
        'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.01'
    ),
}
PROMQL_WORDS = {"sum", "rate", "increase", "delta", "and", "or", "by", "status"}


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    [group] = document["groups"]
    assert group["name"] and isinstance(group["rules"], list)
    return list(group["rules"])


def test_the_rule_file_has_the_expected_alerts() -> None:
    rules = _rules()
    assert {rule["alert"]: rule["expr"] for rule in rules} == EXPECTED
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])


def test_every_metric_the_rules_name_is_exported(app: Flask) -> None:
    exported = set()
    for family in scrape(app).values():
        exported.update(s.name for s in family.samples)
        exported.add(family.name)
    for counter in (metrics.DISCONNECTS, metrics.HTTP_REQUESTS):
        exported.add(counter._name + "_total")
    for rule in _rules():
        expression = re.sub(r'\{[^}]*\}|\[[^]]*\]|"[^"]*"', "", rule["expr"])
        names = set(re.findall(r"[a-z_][a-z0-9_]*", expression)) - PROMQL_WORDS
        assert names <= exported, (rule["alert"], names - exported)
