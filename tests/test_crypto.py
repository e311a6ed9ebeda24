"""Secrets at rest: ciphertext only in the database, key rotation, undecryptable rows."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from webapp.extensions import db

SECRET = "GOCSPX-secret-value"
TOKEN = "1//04refresh-token-value"


def _raw_row(object_id: str) -> Any:
    return db.session.execute(
        text("SELECT client_secret_ciphertext, refresh_token_ciphertext FROM calendar WHERE object_id = :id"),
        {"id": object_id},
    ).one()


def _use_keys(app: Flask, *keys: str) -> None:
    app.extensions["keyring"] = MultiFernet([Fernet(k) for k in keys])


def test_the_database_holds_no_plaintext(app: Flask, make_calendar: Any) -> None:
    calendar = make_calendar(client_secret=SECRET, refresh_token=TOKEN)
    secret_raw, token_raw = (bytes(v) for v in _raw_row(calendar["id"]))
    for raw in (secret_raw, token_raw):
        assert SECRET.encode() not in raw and TOKEN.encode() not in raw
    keyring = app.extensions["keyring"]
    assert keyring.decrypt(secret_raw).decode() == SECRET
    assert keyring.decrypt(token_raw).decode() == TOKEN


def test_rotate_re_encrypts_every_row_under_the_first_key(app: Flask, make_calendar: Any) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _use_keys(app, old_key)
    ids = [make_calendar(deduplication_key=f"k{i}")["id"] for i in range(3)]
    _use_keys(app, new_key, old_key)
    result = app.test_cli_runner().invoke(args=["crypto", "rotate", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"rotated": 3, "undecryptable": []}
    db.session.expire_all()
    only_new = Fernet(new_key)
    for object_id in ids:
        secret_raw, token_raw = (bytes(v) for v in _raw_row(object_id))
        assert only_new.decrypt(secret_raw).decode() == "GOCSPX-secret-value"
        assert only_new.decrypt(token_raw).decode() == "1//04refresh-token-value"


def test_rotate_reports_and_keeps_rows_it_cannot_decrypt(app: Flask, make_calendar: Any) -> None:
    lost_key = Fernet.generate_key().decode()
    _use_keys(app, lost_key)
    lost = make_calendar(deduplication_key="lost")["id"]
    before = tuple(bytes(v) for v in _raw_row(lost))
    _use_keys(app, Fernet.generate_key().decode())
    result = app.test_cli_runner().invoke(args=["crypto", "rotate"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {"rotated": 0, "undecryptable": [lost]}
    assert tuple(bytes(v) for v in _raw_row(lost)) == before


def test_an_undecryptable_row_never_breaks_the_api(
    app: Flask, client: FlaskClient, auth: dict[str, str], make_calendar: Any
) -> None:
    calendar = make_calendar()
    _use_keys(app, Fernet.generate_key().decode())  # the key that wrote the row is gone
    url = f"/api/v1/calendars/{calendar['id']}"
    assert client.get(url, headers=auth).status_code == 200
    assert client.get("/api/v1/calendars", headers=auth).status_code == 200
    patched = client.patch(url, json={"refresh_token": "new-token"}, headers=auth)
    assert patched.status_code == 200
    assert client.delete(url, headers=auth).status_code == 200


def test_check_lists_calendars_whose_secrets_no_key_opens(app: Flask, make_calendar: Any) -> None:
    readable = make_calendar(deduplication_key="readable")["id"]
    lost_key = Fernet.generate_key().decode()
    current = app.extensions["keyring"]
    _use_keys(app, lost_key)
    lost = make_calendar(deduplication_key="lost")["id"]
    app.extensions["keyring"] = current
    result = app.test_cli_runner().invoke(args=["crypto", "check"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {"checked": 2, "undecryptable": [lost]}
    assert readable not in result.output
