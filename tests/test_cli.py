"""The command line prints exactly one JSON object per command."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ApiKey


def _run(runner: FlaskCliRunner, *args: str) -> dict[str, object]:
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    data: dict[str, object] = json.loads(lines[0])
    return data


def test_projects_and_keys_lifecycle(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = _run(runner, "projects", "create", "Acme Scheduling")
    assert set(created) == {"project_id", "api_key"}
    assert str(created["project_id"]).startswith("proj_")
    client = app.test_client()

    def status(key: object) -> int:
        return client.get("/api/v1/calendars", headers={"Authorization": f"Token {key}"}).status_code

    assert status(created["api_key"]) == 200
    extra = _run(runner, "api-keys", "create", str(created["project_id"]), "--name", "ci")
    assert set(extra) == {"id", "api_key"} and str(extra["id"]).startswith("key_")
    assert status(extra["api_key"]) == 200
    # Only the hash is stored.
    stored = db.session.scalars(select(ApiKey.key_hash)).all()
    assert extra["api_key"] not in stored
    assert ApiKey.hash_key(str(extra["api_key"])) in stored

    assert _run(runner, "api-keys", "revoke", str(extra["id"])) == {"id": extra["id"], "revoked": True}
    assert status(extra["api_key"]) == 401
    assert status(created["api_key"]) == 200


def test_unknown_ids_fail_cleanly(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["api-keys", "create", "proj_doesnotexist00"])
    assert result.exit_code == 1
    assert "Project not found" in result.output
    result = runner.invoke(args=["api-keys", "revoke", "key_doesnotexist000"])
    assert result.exit_code == 1


SECRET = ["--client-secret-stdin"]


def test_the_three_command_groups_print_errors_in_one_shape(app: Flask) -> None:
    """Field errors keep their fields (the API's shape), anything else is ``{"error": …}``; exit code 1."""
    runner = app.test_cli_runner()
    cases = [
        (["users", "create-admin", "not-an-email"], "short\n", {"email", "password"}),
        (
            ["oauth-apps", "set", "proj_doesnotexist00", "google", "--client-id", "c", "--client-secret-stdin"],
            "s\n",
            {"error"},
        ),
        (["api-keys", "create", "proj_doesnotexist00"], "", {"error"}),
        (["users", "add-to-project", "nobody@example.com", "proj_doesnotexist00"], "", {"error"}),
    ]
    project = _run(runner, "projects", "create", "Acme")["project_id"]
    cases.append(
        (
            ["oauth-apps", "set", str(project), "google", "--client-id", " ", "--client-secret-stdin"],
            "\n",
            {"client_id", "client_secret"},
        )
    )
    cases.append((["projects", "allow-redirect-origin", str(project), "https://x.example/path"], "", {"origin"}))
    for args, stdin, keys in cases:
        result = runner.invoke(args=args, input=stdin)
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == ""
        printed = json.loads(result.stderr)
        assert set(printed) == keys, (args, printed)
        if keys != {"error"}:
            assert all(isinstance(messages, list) and messages for messages in printed.values())
