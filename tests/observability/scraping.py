"""Reading /metrics the way Prometheus does: through the endpoint, parsed by prometheus-client's parser."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def scrape(app: Flask, client: FlaskClient | None = None) -> dict[str, Any]:
    """Every family of ``/metrics`` by name (the app's METRICS_TOKEN is set for the scrape)."""
    app.config["METRICS_TOKEN"] = TOKEN
    response = (client or app.test_client()).get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}


def sample(families: dict[str, Any], name: str, labels: dict[str, str] | None = None) -> float:
    """The sum of the samples called *name* whose labels include *labels* (0 when there is none)."""
    total = 0.0
    for family in families.values():
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items()):
                total += float(s.value)
    return total
