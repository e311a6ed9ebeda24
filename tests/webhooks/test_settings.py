"""Webhook settings from the environment, the beat schedule, and the canonical JSON that is signed."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from config import ConfigurationError, load_settings
from webapp.runtime.celery_app import celery_for
from webapp.webhooks import signing


def test_webhook_settings_have_defaults_and_read_the_environment(tmp_path: Path) -> None:
    defaults = load_settings({}, tmp_path)
    assert defaults["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] is False
    assert defaults["WEBHOOK_TIMEOUT_SECONDS"] == 10 and defaults["WEBHOOK_MAX_ATTEMPTS"] == 8
    assert defaults["WEBHOOK_SECRET_ROTATION_HOURS"] == 24 and defaults["WEBHOOK_PAUSE_AFTER_FAILURES"] == 5
    given = load_settings({"WEBHOOK_ALLOW_PRIVATE_ADDRESSES": " True ", "WEBHOOK_MAX_ATTEMPTS": "3"}, tmp_path)
    assert given["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] is True and given["WEBHOOK_MAX_ATTEMPTS"] == 3
    assert load_settings({"WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "0"}, tmp_path)["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] is False
    with pytest.raises(ConfigurationError, match="WEBHOOK_ALLOW_PRIVATE_ADDRESSES must be true or false"):
        load_settings({"WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "maybe"}, tmp_path)


def test_beat_runs_both_the_sync_fan_out_and_the_webhook_sweep(app: Flask) -> None:
    schedule = celery_for(app).conf.beat_schedule
    assert schedule["webhooks-sweep"] == {"task": "webhooks.sweep", "schedule": 15.0, "options": {"expires": 15}}
    assert schedule["sync-due-calendars"]["task"] == "sync.dispatch_due"
    assert {"webhooks.deliver", "webhooks.sweep"} <= set(celery_for(app).tasks)


def test_canonical_json_sorts_keys_and_is_compact() -> None:
    body = signing.canonical_json({"b": 1, "a": {"d": None, "c": "é"}})
    assert body == b'{"a":{"c":"\\u00e9","d":null},"b":1}'
    assert signing.sign(b"k", body) == "7mQsD37mJ90iucjAO16koAKCITv71cAO00EcS2n4Aqw="
    assert not signing.verify(b"other", body, signing.sign(b"k", body))
